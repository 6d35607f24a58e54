// Package reliability drives a real ipvm daemon from outside, as a user
// would: it starts the ipvm binary as a child process, submits workflows
// through the HTTP gateway, records every receipt the gateway reported
// (acknowledged), and checks them against what the daemon serves later.
// The crash loop (cmd/crashloop, scripts/crashloop) and the load run
// (cmd/load, scripts/load) are built on it; RELIABILITY.md has their
// figures.
package reliability
