package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/configsource"
)

// runKey stores the upstream API key, read from standard input, as a
// SecureString.
func runKey(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("key", stderr)
	name := fs.String("name", DefaultKeyParameter, "SSM parameter to write (SecureString)")
	kmsKey := fs.String("kms-key-id", "", "KMS key for the SecureString (default: the account's aws/ssm key)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *name == "" {
		return usageError{"-name is required"}
	}
	key, err := readKey(stdin, stderr)
	if err != nil {
		return err
	}
	client, err := newClient(ctx)
	if err != nil {
		return err
	}
	in := &ssm.PutParameterInput{
		Name:        aws.String(*name),
		Value:       aws.String(key),
		Type:        ssmtypes.ParameterTypeSecureString,
		Overwrite:   aws.Bool(true),
		Description: aws.String("lambda-ai-proxy upstream API key (ssmput key)"),
	}
	if *kmsKey != "" {
		in.KeyId = aws.String(*kmsKey)
	}
	out, err := client.PutParameter(ctx, in)
	if err != nil {
		// Belt and braces: SSM marks Value sensitive, but never let an
		// error message carry the key.
		msg := strings.ReplaceAll(configsource.SafeError(err).Error(), key, "[redacted]")
		return fmt.Errorf("put parameter %s: %s", *name, msg)
	}
	fmt.Fprintf(stdout, "stored %s version %d (SecureString)\n", *name, out.Version)
	return nil
}

// readKey reads the key from stdin: one line from a terminal (with echo
// off, best effort), or the whole input from a pipe or file. The trailing
// newline is removed; anything else unusual is refused rather than stored.
func readKey(stdin io.Reader, stderr io.Writer) (string, error) {
	var raw string
	if f, ok := stdin.(*os.File); ok && isTerminal(f) {
		fmt.Fprint(stderr, "API key (input hidden), then Enter: ")
		restore := echoOff(f)
		// Ctrl-C at the prompt must not leave the terminal without echo.
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		go func() {
			if _, ok := <-sig; ok {
				restore()
				fmt.Fprintln(stderr)
				os.Exit(130)
			}
		}()
		line, err := bufio.NewReader(f).ReadString('\n')
		signal.Stop(sig)
		close(sig)
		restore()
		fmt.Fprintln(stderr)
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read key: %w", err)
		}
		raw = line
	} else {
		b, err := io.ReadAll(io.LimitReader(stdin, maxValue+1))
		if err != nil {
			return "", fmt.Errorf("read key from standard input: %w", err)
		}
		if len(b) > maxValue {
			return "", fmt.Errorf("standard input is longer than %d bytes: not an API key", maxValue)
		}
		raw = string(b)
	}
	key := strings.TrimSuffix(raw, "\n")
	key = strings.TrimSuffix(key, "\r")
	switch {
	case key == "":
		return "", errors.New("no key on standard input (pipe it in: make put-key < key.txt)")
	case strings.ContainsAny(key, "\r\n"):
		return "", errors.New("standard input holds more than one line; give the key alone")
	case strings.TrimSpace(key) != key:
		return "", errors.New("the key has leading or trailing spaces; check what was pasted")
	}
	for _, r := range key {
		if unicode.IsControl(r) {
			return "", errors.New("the key contains control characters")
		}
	}
	return key, nil
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// echoOff turns terminal echo off with stty (no extra dependency) and
// returns a function that turns it back on. Failure leaves echo on.
func echoOff(f *os.File) func() {
	off := exec.Command("stty", "-echo")
	off.Stdin = f
	if off.Run() != nil {
		return func() {}
	}
	return func() {
		on := exec.Command("stty", "echo")
		on.Stdin = f
		_ = on.Run()
	}
}
