package gemini

import (
	"errors"
	"io"
	"strings"
)

func ioNop(s string) io.ReadCloser { return io.NopCloser(strings.NewReader(s)) }

func errorsAs(err error, target any) bool { return errors.As(err, target) }
