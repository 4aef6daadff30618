"""Pure builders of Dash components: payload dicts in, components out. No I/O, no callbacks."""
