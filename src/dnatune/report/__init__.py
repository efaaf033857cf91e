"""The HTML report: renders the statistics' tables and figures through Jinja2 templates."""
