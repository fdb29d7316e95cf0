// Package xconn opens connections of its own to an X server, for tests
// that need the display to send them something: an event on one
// connection, caused from another. It is there only with cgo and X11.
package xconn
