module github.com/bedrock-model-operator/hack/node/pause

go 1.26
