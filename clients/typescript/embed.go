// Package typescript holds the TypeScript client of the ringd protocol (an
// npm package: see its README section in the repository's README) and
// makes its compiled ES modules available to Go, for pages ringd serves.
package typescript

import "embed"

// Dist is the compiled client: dist/index.js and the modules it imports,
// with their .d.ts declarations. It is committed, so using it needs no
// Node.js step; the package's tests fail when it is stale.
//
//go:embed dist
var Dist embed.FS
