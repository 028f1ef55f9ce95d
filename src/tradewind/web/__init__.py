"""The live web dashboard: static ES modules served by the service itself (no build step, no CDN)."""
