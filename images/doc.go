// Package images holds the Dockerfiles of bot-bottle's images and
// build.sh, which builds them offline (see README.md). It has no Go code:
// its tests build the images with build.sh and check what is in them, and
// are skipped only when no Docker engine answers.
package images
