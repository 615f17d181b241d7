package lndconn

import (
	"context"
	"os"
	"time"

	"github.com/l402/l402/internal/config"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/lnddetect"
)

// infoTimeout bounds the GetInfo that checks a fresh connection.
const infoTimeout = 15 * time.Second

// Macaroon says which macaroon a connection calls lnd with.
type Macaroon struct {
	// File is a macaroon file named by the user (--macaroon); it wins
	// over Names.
	File string

	// Names are lnd's macaroons by name, best first ("readonly",
	// "admin", a role's): the first usable one is used; when none is,
	// the error is the first one's. No names means lnddetect's choice
	// for GetInfo: readonly, else admin.
	Names []string

	// Hint is added to the error when none of Names is usable, such as
	// how to name another file.
	Hint string
}

// Node is an lnd found and dialled, and what its GetInfo said.
type Node struct {
	Result *lnddetect.Result
	Lnd    *lightning.Lnd
	Info   lnddetect.NodeInfo

	// MacaroonPath is the file the connection calls lnd with.
	MacaroonPath string
}

// Close closes the connection.
func (n *Node) Close() error { return n.Lnd.Close() }

// Connect finds lnd with the options and hooks and dials it with
// o.Macaroon, else the first usable of names (an error then says that
// --macaroon can name another file).
func Connect(ctx context.Context, o Options, h Hooks,
	names ...string) (*Node, error) {

	res, err := Find(o, h)
	if err != nil {
		return nil, err
	}
	return Dial(ctx, res, Macaroon{File: o.Macaroon, Names: names,
		Hint: "or pass --macaroon with a macaroon file that may do this"})
}

// Dial connects to the lnd res describes with the macaroon m chooses,
// calls GetInfo and checks that the node is on res's network, so that a
// caller starts from a node known to answer. Errors are
// *lnddetect.Problem.
func Dial(ctx context.Context, res *lnddetect.Result,
	m Macaroon) (*Node, error) {

	if _, err := res.TLSCert(); err != nil {
		return nil, lnddetect.Explain(err)
	}
	path, err := m.path(res)
	if err != nil && m.File == "" && m.Hint != "" {
		return nil, lnddetect.Explain(err, m.Hint)
	}
	if err != nil {
		return nil, lnddetect.Explain(err)
	}

	p := &prober{}
	var info lnddetect.NodeInfo
	if path == "" {
		info, err = lnddetect.Verify(ctx, p, res, "")
	} else {
		info, err = lnddetect.VerifyWith(ctx, p, res, path)
	}
	if err != nil {
		if p.lnd != nil {
			p.lnd.Close()
		}
		return nil, lnddetect.Explain(err)
	}
	return &Node{Result: res, Lnd: p.lnd, Info: info,
		MacaroonPath: p.macaroon}, nil
}

// path returns the macaroon file to call lnd with: File, or the first of
// Names that lnddetect found usable, or the first name's error; "" leaves
// the choice to lnddetect.Verify.
func (m Macaroon) path(res *lnddetect.Result) (string, error) {
	if m.File != "" {
		return readable(m.File)
	}
	if len(m.Names) == 0 {
		return "", nil
	}
	for _, name := range m.Names {
		if path, err := res.Macaroon(name); err == nil {
			return path, nil
		}
	}
	_, err := res.Macaroon(m.Names[0])
	return "", err
}

// readable returns the macaroon file the user named, "~" expanded, once
// it can be opened.
func readable(file string) (string, error) {
	path, err := config.ExpandHome(file)
	if err != nil {
		return "", err
	}
	f, err := os.Open(path)
	if err != nil {
		return "", &lnddetect.FileError{What: "macaroon", Path: path,
			Problem: "cannot be read", Fix: "pass --macaroon with a " +
				"macaroon file you may read, such as lnd's " +
				"admin.macaroon", Err: err}
	}
	f.Close()
	return path, nil
}

// prober is lnddetect's Prober with l402's own client; it keeps the
// connection that answered, for the caller to go on with.
type prober struct {
	lnd      *lightning.Lnd
	macaroon string
}

// Probe implements lnddetect.Prober.
func (p *prober) Probe(ctx context.Context, host, tlsCertPath,
	macaroonPath string) (lnddetect.NodeInfo, error) {

	l, err := lightning.NewLnd(lightning.LndConfig{Host: host,
		TLSCertPath: tlsCertPath, MacaroonPath: macaroonPath})
	if err != nil {
		return lnddetect.NodeInfo{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, infoTimeout)
	defer cancel()
	info, err := l.Info(ctx)
	if err != nil {
		l.Close()
		return lnddetect.NodeInfo{}, err
	}
	p.lnd, p.macaroon = l, macaroonPath
	return lnddetect.NodeInfo{Alias: info.Alias, Pubkey: info.Pubkey,
		Chain: "bitcoin", Network: info.Network,
		SyncedToChain: info.Synced}, nil
}

// NodeError makes a failed call to a connected lnd a Problem when its
// cause is lnd's state, the connection or the macaroon, and leaves it as
// it is otherwise. The message is the call's own, which says what to do.
func NodeError(err error) error {
	cause := lnddetect.Classify(err)
	if cause == lnddetect.CauseUnknown {
		return err
	}
	return &lnddetect.Problem{Cause: cause, Msg: err.Error(), Err: err}
}
