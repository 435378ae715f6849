//go:build !race

package promeval

const raceEnabled = false
