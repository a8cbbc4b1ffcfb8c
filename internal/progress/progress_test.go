package progress

import (
	"bytes"
	"regexp"
	"testing"
)

// TestPlainOutput: off a terminal there is no bar and no control character,
// only the summary line (the task is too short for intermediate lines).
func TestPlainOutput(t *testing.T) {
	var b bytes.Buffer
	task := Start(&b, "train epoch 1/3", 4)
	for i := 0; i < 4; i++ {
		task.Add(1)
	}
	task.Done("loss 0.1")
	if !regexp.MustCompile(`^train epoch 1/3: loss 0\.1 \(\d+\.\d s\)\n$`).MatchString(b.String()) {
		t.Errorf("output %q", b.String())
	}
	if bytes.ContainsAny(b.Bytes(), "\r\x1b") {
		t.Errorf("control characters in plain output: %q", b.String())
	}
}

func TestNilWriterIsSilent(t *testing.T) {
	task := Start(nil, "x", 3)
	task.Add(3)
	task.Done("")
	var nilTask *Task
	nilTask.Add(1)
	nilTask.Done("")
}

func TestIsTerminal(t *testing.T) {
	if IsTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is not a terminal")
	}
}
