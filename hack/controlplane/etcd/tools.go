//go:build tools

// Package tools names the etcd binary that build-control-plane.sh builds.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)
