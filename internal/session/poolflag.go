package session

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxPoolSize bounds one lab's pool: each box holds a container's memory
// for as long as it waits.
const MaxPoolSize = 1000

// ParsePoolSizes reads `--pool`: comma-separated lab=count pairs, such as
// "git-basics=5,ci-pipeline=2". Empty: no pool.
func ParsePoolSizes(s string) (map[string]int, error) {
	out := map[string]int{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lab, count, ok := strings.Cut(part, "=")
		lab = strings.TrimSpace(lab)
		if !ok || lab == "" {
			return nil, fmt.Errorf("%q is not lab=count", part)
		}
		n, err := strconv.Atoi(strings.TrimSpace(count))
		if err != nil || n < 0 || n > MaxPoolSize {
			return nil, fmt.Errorf("%q: the count must be a whole number from 0 to %d", part, MaxPoolSize)
		}
		if _, dup := out[lab]; dup {
			return nil, fmt.Errorf("lab %q is named twice", lab)
		}
		out[lab] = n
	}
	return out, nil
}
