// Package helm holds no code: it is the home of the tests of the Helm chart
// in bot-sidecar/. They lint it, render every values file in testdata/ with
// Helm's own packages, decode what it renders strictly into Kubernetes API
// types, hold it to the sidecar's invariants (ports, probes, security
// context, credentials mounted as files, no variable the sidecar does not
// know), check the values it must refuse, and keep deploy/README.md's
// snippet and values table true to the chart.
package helm
