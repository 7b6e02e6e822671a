"""Spaces: projects and communities, their members, pages tree, guest links and directory."""
