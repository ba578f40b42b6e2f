//go:build tools

// Package tools names the Kubernetes binaries that build-control-plane.sh builds (the
// control plane, and kubelet and kube-scheduler for the local node).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
