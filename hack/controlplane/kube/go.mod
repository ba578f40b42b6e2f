// Tools module for the local control plane (kube). hack/build-control-plane.sh copies it to a cache
// directory and adds the pinned requirements there (and for kube, the staging replace list derived
// from the proxy's .mod file), so nothing version-specific is hand-copied into the repository.
module github.com/bedrock-model-operator/hack/controlplane/kube

go 1.26
