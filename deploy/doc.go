// Package deploy holds no code: it is the home of the tests that check the
// sidecar's container image (the Dockerfile and .dockerignore at the
// repository's root) without a Docker engine. deploy/README.md describes
// the image and the Helm chart in deploy/helm.
package deploy
