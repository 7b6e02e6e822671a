"""Full-text search over the pages a user may read: index, query, `/recherche`."""
