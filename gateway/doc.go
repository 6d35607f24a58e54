// Package gateway serves a node over HTTP: workflows, receipts, blobs,
// offers, health, metrics, the OpenAPI document and the dashboard.
package gateway
