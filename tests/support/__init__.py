"""What tests share, one concept a module: servers and ports, the Yjs driver, forms, people,
worlds of spaces, browsers and the editor, meeting bots and media. Tests import these modules
by name (`from tests.support.forms import post_form`); fixtures live in the conftest files."""
