"""Ray workloads for Sentinel: one module per pipeline stage plus the Serve app."""
