"""The meeting pages: a space's meeting room, ad-hoc meetings, and their live notes."""
