package sandbox

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/opsdojo/opsdojo/internal/grading"
)

// TestReadBuildKeepsOnlyItsOwnImages: the ids after a FROM step and after
// "Using cache" are not the build's to remove (a learner may build FROM a
// lab image; a cached step may be another session's image).
func TestReadBuildKeepsOnlyItsOwnImages(t *testing.T) {
	lines := []string{
		"Step 1/6 : FROM opsdojo/lab-git-basics:c97c5952d808a037 AS build\n",
		" ---> 453bec82002c\n",
		"Step 2/6 : RUN echo cached\n",
		" ---> Using cache\n",
		" ---> 1111aaaa2222\n",
		"Step 3/6 : RUN echo new\n",
		" ---> Running in 5ed2d6f54784\n",
		"new\n",
		"Removing intermediate container 5ed2d6f54784\n",
		" ---> 3333bbbb4444\n",
		"Step 4/6 : from opsdojo/base:bookworm\n",
		" ---> 317fb8827743\n",
		// Two lines in one message, as engines sometimes send them.
		"Step 5/6 : COPY --from=build /x /x\n ---> 5555cccc6666\n",
		"Step 6/6 : LABEL opsdojo.session=s\n",
		" ---> Running in 6aa360b879dc\n",
		" ---> 7777dddd8888\n",
		"Successfully built 7777dddd8888\n",
	}
	var stream strings.Builder
	for _, l := range lines {
		b, _ := json.Marshal(map[string]string{"stream": l})
		stream.Write(b)
		stream.WriteByte('\n')
	}
	var log strings.Builder
	var res grading.BuildResult
	if err := readBuild(strings.NewReader(stream.String()), &log, &res, nil); err != nil {
		t.Fatal(err)
	}
	if want := []string{"3333bbbb4444", "5555cccc6666", "7777dddd8888"}; !slices.Equal(res.Images, want) {
		t.Fatalf("images %v, want %v", res.Images, want)
	}
	if res.Step != 6 || res.Failed {
		t.Fatalf("step %d failed %v", res.Step, res.Failed)
	}
	if !strings.Contains(log.String(), "Removing intermediate container") {
		t.Fatal("the log lost lines")
	}
}

func TestReadBuildInBandError(t *testing.T) {
	stream := `{"stream":"Step 1/2 : FROM opsdojo/base:bookworm\n"}` + "\n" +
		`{"stream":" ---> 317fb8827743\n"}` + "\n" +
		`{"stream":"Step 2/2 : RUN false\n"}` + "\n" +
		`{"error":"The command '/bin/sh -c false' returned a non-zero code: 1"}` + "\n"
	var res grading.BuildResult
	if err := readBuild(strings.NewReader(stream), nil, &res, nil); err != nil {
		t.Fatal(err)
	}
	if !res.Failed || res.Step != 2 || !strings.Contains(res.Error, "non-zero code: 1") || len(res.Images) != 0 {
		t.Fatalf("%+v", res)
	}
}
