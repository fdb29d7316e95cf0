// Package disktest runs a test's body on a small, real file system mounted
// in a private mount namespace, so the test can fill the disk or make it
// fail without touching the machine: a tmpfs to fill (Run) or an ext4 image
// whose errors turn it read-only under open files (RunExt4). The test binary
// re-runs itself, for that one test, in the namespace; the parent reports the
// child's output and result. When the test ends, the file system's files are
// copied beside its mount point (dir + ".contents"), so a run with -artifacts
// keeps them.
//
// Run needs Linux and either root or unprivileged user namespaces; RunExt4
// needs root, loop devices and mkfs.ext4. Where they are missing the test is
// skipped with the reason.
package disktest
