package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strings"
	"time"

	"github.com/l402/l402/internal/cli"
	"github.com/l402/l402/internal/macaroons"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// maxMacaroonFile bounds what inspect and attenuate read: lnd's macaroons
// are a few hundred bytes.
const maxMacaroonFile = 1 << 20

// caveatFlags are the restrictions bake and bake attenuate add, as lnd's
// own caveats.
type caveatFlags struct {
	timeout time.Duration
	ip      string
	ipRange string
}

// add registers the flags.
func (f *caveatFlags) add(fs *pflag.FlagSet) {
	fs.DurationVar(&f.timeout, "timeout", 0, "expire the macaroon this "+
		"long from now, such as 1h or 720h (lnd's time-before caveat)")
	fs.StringVar(&f.ip, "ip", "", "lock the macaroon to this client IP "+
		"address, as lnd sees the client (lnd's ipaddr caveat)")
	fs.StringVar(&f.ipRange, "ip-range", "", "lock the macaroon to this "+
		"network, such as 10.0.0.0/8 (lnd's iprange caveat)")
}

// options checks the flags and returns them as attenuation options, or
// nil when none was given. timeoutSet says whether --timeout was given:
// given, it must be positive.
func (f caveatFlags) options(timeoutSet bool) (*macaroons.AttenuateOptions,
	bool, error) {

	if timeoutSet && f.timeout <= 0 {
		return nil, false, fmt.Errorf("--timeout %v: give a positive "+
			"duration such as 1h (leave --timeout out for no expiry)",
			f.timeout)
	}
	if f.ip != "" && net.ParseIP(f.ip) == nil {
		return nil, false, fmt.Errorf("--ip %q is not an IP address such "+
			"as 203.0.113.7 or 2001:db8::7 (no host names, ports or "+
			"ranges; --ip-range takes a range)", f.ip)
	}
	if f.ipRange != "" {
		if _, _, err := net.ParseCIDR(f.ipRange); err != nil {
			return nil, false, fmt.Errorf("--ip-range %q is not a "+
				"network in CIDR notation such as 10.0.0.0/8",
				f.ipRange)
		}
	}
	if f.timeout == 0 && f.ip == "" && f.ipRange == "" {
		return nil, false, nil
	}
	return &macaroons.AttenuateOptions{Timeout: f.timeout, IP: f.ip,
		IPRange: f.ipRange}, true, nil
}

// newBakeAttenuateCmd builds `l402 bake attenuate`.
func newBakeAttenuateCmd(streams cli.IO) *cobra.Command {
	var (
		caveats caveatFlags
		out     string
		force   bool
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "attenuate FILE",
		Short: "Narrow any lnd macaroon offline: expiry, client IP, network",
		Long: "Add lnd's own caveats to a macaroon file (binary or hex), " +
			"without any node:\n--timeout (time-before), --ip (ipaddr), " +
			"--ip-range (iprange). The result is\nwritten 0600 to --out, " +
			"by default FILE with .attenuated before .macaroon;\nan " +
			"existing file is never replaced without --force. lnd checks " +
			"--ip against\nthe address it sees the client at.\n\nExit " +
			"codes: 0 ok, 1 general error, 2 bad arguments (no caveat, a " +
			"bad flag,\nFILE missing or not a macaroon).",
		Args: exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			opts, given, err := caveats.options(c.Flags().Changed("timeout"))
			if err != nil {
				return cli.Usage(err)
			}
			if !given {
				return cli.Usage(errors.New("nothing to add: give " +
					"--timeout, --ip or --ip-range"))
			}
			return runAttenuate(streams, args[0], out, force, asJSON, *opts)
		},
	}
	f := cmd.Flags()
	caveats.add(f)
	f.StringVar(&out, "out", "", "the file to write (default: FILE with "+
		".attenuated before .macaroon)")
	f.BoolVar(&force, "force", false, "replace an existing --out file")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON on stdout")
	return cmd
}

// attenuateResult is what `l402 bake attenuate --json` prints.
type attenuateResult struct {
	Path      string     `json:"path"`
	Source    string     `json:"source"`
	Added     []string   `json:"caveats_added"`
	Caveats   []string   `json:"caveats"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// runAttenuate narrows the macaroon in file and writes it to out.
func runAttenuate(streams cli.IO, file, out string, force, asJSON bool,
	opts macaroons.AttenuateOptions) error {

	mac, before, err := readMacaroon(streams, file)
	if err != nil {
		return err
	}
	if out == "" {
		out = attenuatedPath(file)
	}
	if _, err := os.Lstat(out); err == nil && !force {
		return errFileExists.Mark(fmt.Errorf("%s already exists: choose "+
			"another file with --out, or replace it with --force", out))
	}

	narrowed, err := macaroons.Attenuate(mac, opts)
	if err != nil {
		return cli.Usage(err)
	}
	after, err := macaroons.Inspect(narrowed)
	if err != nil {
		return err
	}
	if err := writeMacaroon(out, narrowed, force); err != nil {
		return err
	}

	res := attenuateResult{Path: out, Source: file,
		Added: after.Caveats[len(before.Caveats):], Caveats: after.Caveats,
		ExpiresAt: after.ExpiresAt}
	if asJSON {
		return cli.WriteJSON(streams.Out, res)
	}
	_, err = fmt.Fprintf(streams.ErrOut, "l402: wrote %s (mode 0600), "+
		"adding: %s\n", out, strings.Join(res.Added, "; "))
	return err
}

// attenuatedPath returns file with ".attenuated" before ".macaroon", or
// after the name when it has no such suffix.
func attenuatedPath(file string) string {
	if file == "-" {
		return "attenuated.macaroon"
	}
	if base, ok := strings.CutSuffix(file, ".macaroon"); ok {
		return base + ".attenuated.macaroon"
	}
	return file + ".attenuated"
}

// newBakeInspectCmd builds `l402 bake inspect`.
func newBakeInspectCmd(streams cli.IO) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inspect FILE",
		Short: "Show a macaroon's id, location, caveats and permissions",
		Long: "Show what a macaroon file (binary or hex; - reads stdin) " +
			"says about itself,\nwithout any node: version, location, id, " +
			"lnd's root key ID and the\npermissions lnd wrote into the id, " +
			"the l402 role they match, the caveats\nand the expiry. The " +
			"macaroon itself is never printed.\n\nExit codes: 0 ok, 1 " +
			"general error, 2 bad arguments (FILE missing or not a\n" +
			"macaroon).",
		Args: exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			_, info, err := readMacaroon(streams, args[0])
			if err != nil {
				return err
			}
			return writeInspect(streams, asJSON, args[0], info)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON on stdout")
	return cmd
}

// inspectResult is what `l402 bake inspect --json` prints.
type inspectResult struct {
	Path string `json:"path"`
	macaroons.Info
	Expired bool   `json:"expired"`
	Revoke  string `json:"revoke,omitempty"`
}

// writeInspect prints what the macaroon says: JSON, or macaroons'
// label/value table with the expiry state and how to revoke it.
func writeInspect(streams cli.IO, asJSON bool, path string,
	info macaroons.Info) error {

	res := inspectResult{Path: path, Info: info,
		Expired: info.ExpiresAt != nil && !time.Now().Before(
			*info.ExpiresAt)}
	if info.RootKeyID != "" {
		res.Revoke = "lncli deletemacaroonid " + info.RootKeyID
	}
	if asJSON {
		return cli.WriteJSON(streams.Out, res)
	}

	if err := macaroons.WriteTable(streams.Out, info); err != nil {
		return err
	}
	if info.ExpiresAt != nil {
		fmt.Fprintf(streams.Out, "%-12s %v\n", "expired", res.Expired)
	}
	if res.Revoke != "" {
		fmt.Fprintf(streams.Out, "%-12s %s\n", "revoke", res.Revoke)
	}
	return nil
}

// readMacaroon reads a macaroon file ("-" is stdin) and inspects it. A
// file that is missing, too large or not a macaroon is a bad argument.
func readMacaroon(streams cli.IO, path string) ([]byte, macaroons.Info,
	error) {

	var r io.Reader = streams.In
	if path != "-" {
		f, err := os.Open(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, macaroons.Info{}, cli.Usage(fmt.Errorf("%s does "+
				"not exist: give a macaroon file", path))
		}
		if err != nil {
			return nil, macaroons.Info{}, err
		}
		defer f.Close()
		r = f
	}

	b, err := io.ReadAll(io.LimitReader(r, maxMacaroonFile+1))
	if err != nil {
		return nil, macaroons.Info{}, fmt.Errorf("unable to read %s: %w",
			path, err)
	}
	if len(b) > maxMacaroonFile {
		return nil, macaroons.Info{}, cli.Usage(fmt.Errorf("%s is over "+
			"1 MiB: not a macaroon", path))
	}
	info, err := macaroons.Inspect(b)
	if err != nil {
		return nil, macaroons.Info{}, cli.Usage(fmt.Errorf("%s: %w",
			path, err))
	}
	return b, info, nil
}

// exactArgs refuses any number of positional arguments but n as bad
// arguments.
func exactArgs(n int) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != n {
			return cli.Usage(fmt.Errorf("%s takes %d argument(s), got %d",
				c.CommandPath(), n, len(args)))
		}
		return nil
	}
}
