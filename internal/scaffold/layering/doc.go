// Package layering holds the test that keeps the module's layout honest:
// code under internal/ lives in one of four groups, named for the side of
// the bottle's boundary it runs on, and the imports between them go only
// the allowed ways.
//
//   - internal/sidecar/NAME runs inside a bottle. It may import
//     internal/shared and pkg/contract, never another sidecar, the host
//     side or the scaffolding.
//   - internal/host runs on the operator's machine. It may import
//     internal/shared and pkg/contract, never a sidecar or the
//     scaffolding.
//   - internal/shared is what both sides use. It imports only
//     pkg/contract and itself.
//   - internal/scaffold is for tests, benchmarks and the demo's pretend
//     world. No shipped binary links it, nor the testing package.
//
// The package has no code of its own.
package layering
