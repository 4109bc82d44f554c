// Command iotbench-ferretdb serves the MongoDB wire protocol with embedded FerretDB v1
// on its SQLite backend.
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

func main() {
	listenAddr := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on")
	sqliteDir := flag.String("sqlite-dir", "", "directory for SQLite database files (created if absent)")
	logLevel := flag.String("log-level", "info", "log level: debug, info, warn or error")
	flag.Parse()

	if err := run(*listenAddr, *sqliteDir, *logLevel); err != nil {
		fmt.Fprintf(os.Stderr, "iotbench-ferretdb: %s\n", err)
		os.Exit(1)
	}
}

func run(listenAddr, sqliteDir, logLevel string) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("invalid -log-level %q: %w", logLevel, err)
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(logger)

	sqliteURL, err := prepareSQLiteDir(sqliteDir)
	if err != nil {
		return err
	}

	ferretVersion := moduleVersion(ferretModule)
	version.Get().Version = ferretVersion // reported by buildInfo; "unknown" otherwise

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	// New already binds the listener, so a busy port fails here.
	db, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: listenAddr},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: sqliteURL,
	})
	if err != nil {
		return fmt.Errorf("cannot start FerretDB on %s: %w", listenAddr, err)
	}

	// Printed whatever the log level, so a supervisor can wait for it.
	fmt.Fprintf(os.Stderr, "iotbench-ferretdb: listening on %s (FerretDB %s, sqlite %s)\n",
		db.MongoDBURI(), ferretVersion, sqliteURL)

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
