"""The pages: the blueprint, its views and forms, CSRF, and the templates."""
