// Command iotbench-ferretdb serves the MongoDB wire protocol with embedded FerretDB v1
// on its SQLite backend (default) or its PostgreSQL backend (-handler postgresql).
//
// The PostgreSQL URL given on the command line carries no password: the password is read
// from -postgresql-password-file, so it never shows in `ps` or in a log line.
//
// FerretDB's own cmd/ferretdb panics when its generated build/version/version.txt is absent
// (it is not part of the module download). The check only runs when FerretDB's module is the
// main module, so embedding its ferretdb package from this module avoids it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/FerretDB/FerretDB/build/version"
	"github.com/FerretDB/FerretDB/ferretdb"
)

const ferretModule = "github.com/FerretDB/FerretDB"

// FerretDB converts every document field by field and allocates for each, so at Go's default
// GC target (100) 31 % of its CPU samples were the garbage collector in a perf profile of bulk
// inserts; at 800 it used 31 % less CPU per event for the same sink work, with an RSS of ~100 MB
// (benchmarks/results/sink-path.md). The memory limit keeps a burst from growing the heap
// without bound: past it the collector runs as often as it must.
const (
	defaultGCPercent = 800
	memoryLimit      = 1 << 30
)

func main() {
	listenAddr := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on")
	handler := flag.String("handler", "sqlite", "backend: sqlite or postgresql")
	sqliteDir := flag.String("sqlite-dir", "", "directory for SQLite database files (created if absent)")
	pgURL := flag.String("postgresql-url", "",
		"PostgreSQL URL without password, e.g. postgres://user@127.0.0.1:5432/db")
	pgPasswordFile := flag.String("postgresql-password-file", "",
		"file holding the PostgreSQL password (kept off the command line)")
	logLevel := flag.String("log-level", "info", "log level: debug, info, warn or error")
	gcPercent := flag.Int("gc-percent", defaultGCPercent,
		"Go GC target (as GOGC); ignored when the GOGC environment variable is set")
	flag.Parse()

	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(*gcPercent)
	}

	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}

	backend := backendFlags{handler: *handler, sqliteDir: *sqliteDir, pgURL: *pgURL,
		pgPasswordFile: *pgPasswordFile}
	if err := run(*listenAddr, backend, *logLevel); err != nil {
		fmt.Fprintf(os.Stderr, "iotbench-ferretdb: %s\n", err)
		os.Exit(1)
	}
}

// backendFlags are the flags that choose and address FerretDB's storage backend.
type backendFlags struct {
	handler        string
	sqliteDir      string
	pgURL          string
	pgPasswordFile string
}

func run(listenAddr string, backend backendFlags, logLevel string) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("invalid -log-level %q: %w", logLevel, err)
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(logger)

	config := ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: listenAddr},
		Logger:   logger,
		Handler:  backend.handler,
	}

	var storage string // what the start-up line names; never contains a password

	switch backend.handler {
	case "sqlite":
		sqliteURL, err := prepareSQLiteDir(backend.sqliteDir)
		if err != nil {
			return err
		}

		config.SQLiteURL, storage = sqliteURL, "sqlite "+sqliteURL
	case "postgresql":
		pgURL, err := postgreSQLURL(backend.pgURL, backend.pgPasswordFile)
		if err != nil {
			return err
		}

		config.PostgreSQLURL, storage = pgURL.String(), "postgresql "+pgURL.Redacted()
	default:
		return fmt.Errorf("invalid -handler %q: use sqlite or postgresql", backend.handler)
	}

	ferretVersion := moduleVersion(ferretModule)
	version.Get().Version = ferretVersion // reported by buildInfo; "unknown" otherwise

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	// New already binds the listener, so a busy port fails here.
	db, err := ferretdb.New(&config)
	if err != nil {
		return fmt.Errorf("cannot start FerretDB on %s: %w", listenAddr, err)
	}

	// Printed whatever the log level, so a supervisor can wait for it.
	fmt.Fprintf(os.Stderr, "iotbench-ferretdb: listening on %s (FerretDB %s, %s)\n",
		db.MongoDBURI(), ferretVersion, storage)

	if err := db.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("FerretDB stopped: %w", err)
	}

	fmt.Fprintln(os.Stderr, "iotbench-ferretdb: stopped")

	return nil
}

// prepareSQLiteDir creates dir if needed and returns the `file:<abs dir>/` URL FerretDB expects.
func prepareSQLiteDir(dir string) (string, error) {
	if dir == "" {
		return "", errors.New("-sqlite-dir is required")
	}

	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("invalid -sqlite-dir %q: %w", dir, err)
	}

	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", fmt.Errorf("cannot create -sqlite-dir: %w", err)
	}

	if strings.ContainsAny(abs, "?#%") {
		return "", fmt.Errorf("-sqlite-dir %q must not contain '?', '#' or '%%'", abs)
	}

	return "file:" + abs + "/", nil
}

// postgreSQLURL parses rawURL and sets the password read from passwordFile (trailing
// newline removed). rawURL itself must not carry one: it is visible on the command line.
func postgreSQLURL(rawURL, passwordFile string) (*url.URL, error) {
	if rawURL == "" {
		return nil, errors.New("-postgresql-url is required with -handler postgresql")
	}

	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, errors.New("-postgresql-url must be a postgres://user@host:port/db URL")
	}

	if _, has := u.User.Password(); has {
		return nil, errors.New("-postgresql-url must not contain a password: " +
			"use -postgresql-password-file")
	}

	if passwordFile == "" {
		return u, nil // e.g. trust authentication
	}

	secret, err := os.ReadFile(passwordFile)
	if err != nil {
		return nil, fmt.Errorf("cannot read -postgresql-password-file: %w", err)
	}

	u.User = url.UserPassword(u.User.Username(), strings.TrimRight(string(secret), "\r\n"))

	return u, nil
}

// moduleVersion returns the version of the given dependency compiled into this binary.
func moduleVersion(path string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}

	for _, dep := range info.Deps {
		if dep.Path == path {
			return dep.Version
		}
	}

	return "unknown"
}
