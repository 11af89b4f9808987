"""The look: Mantine's components and theme (dash-mantine-components), a Plotly template that
matches them, and an optional dark mode.

Mantine's styles come inside its script bundle (inserted as ``<style>`` elements, which the
server's policy allows), so nothing is fetched from elsewhere. Figures are built once, on the
server, for every viewer: they use the light template with transparent backgrounds, and in dark
mode ``assets/theme.css`` recolours their text and grid lines."""

import dash_mantine_components as dmc  # type: ignore[import-untyped]  # ships no type information

# Registers "mantine_light" and "mantine_dark" with plotly.io.templates.
dmc.add_figure_templates()
TEMPLATE = "mantine_light"
THEME = {
    "primaryColor": "teal",
    "defaultRadius": "md",
    "fontFamily": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
}
SCHEMES = ("light", "dark")


def scheme(dark: object) -> str:
    """Mantine's colour scheme for the dark-mode switch's state."""
    return "dark" if dark is True else "light"
