// Package contract is everything the bot-bottle host CLI and its sidecars
// (egress, gitgate, supervise, sidecar-init) agree on: the schemas of the
// files and records they exchange, the names they share (service hostnames,
// ports, in-container paths, environment variables, compose labels) and the
// validation rules for all of it.
//
// The files and records are:
//
//   - the routes file (RoutesFile, YAML), written by the CLI and read by
//     egress: which hosts the agent may reach and how;
//   - the gate file (GateFile, YAML), written by the CLI and read by
//     gitgate: which upstream repositories it fronts;
//   - proposals and responses (Proposal, Response, JSON), exchanged between
//     supervise and the CLI through the queue directory;
//   - audit records (AuditRecord, JSON lines), one per decision.
//
// Every file and record carries a major version. This build understands only
// Version; the parsers check the version before anything else, so a sidecar
// handed a file from a newer CLI stops with an error that says so
// (errors.Is(err, ErrUnsupportedVersion)) instead of misreading it.
//
// Decoding is strict: unknown keys are errors that name the key and its line,
// and every Validate method reports all the problems it finds at once, each
// as a *FieldError naming its field path (such as routes[2].auth.secret),
// gathered in a *ValidationError.
//
// The package imports only the standard library and a YAML decoder, so that
// every binary can depend on it; deps_test.go keeps it that way.
package contract
