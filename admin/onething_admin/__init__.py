"""The administrators' console: build, preview and publish bundles."""
