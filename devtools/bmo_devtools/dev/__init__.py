"""Local development stack: a real Kubernetes control plane and AWS emulators on loopback."""
