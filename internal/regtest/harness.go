package regtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/btcsuite/btcd/rpcclient"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/lightning/lndrpc"
	"github.com/l402/l402/internal/regtest/regtestrpc"
	"google.golang.org/grpc"
)

// The lnd methods the harness calls, by their full gRPC names, with
// internal/lightning/lndrpc's messages and regtestrpc's (those only the
// harness uses; l402 links no lnd RPC package).
const (
	methodNewAddress      = "/lnrpc.Lightning/NewAddress"
	methodWalletBalance   = "/lnrpc.Lightning/WalletBalance"
	methodConnectPeer     = "/lnrpc.Lightning/ConnectPeer"
	methodOpenChannelSync = "/lnrpc.Lightning/OpenChannelSync"
	methodListChannels    = "/lnrpc.Lightning/ListChannels"
	methodSendPaymentV2   = "/routerrpc.Router/SendPaymentV2"
)

const (
	// Network is the network every node of the stack runs on.
	Network = "regtest"

	// ChannelSize is the capacity of the alice -> bob channel in sats.
	ChannelSize = 1_000_000

	// btcdUser and btcdPass guard btcd's RPC, which listens on 127.0.0.1
	// only.
	btcdUser = "l402"
	btcdPass = "l402"
)

// Options configure Start.
type Options struct {
	// Dir holds the stack's data and logs; a new temporary directory
	// when empty (removed again by Stop).
	Dir string

	// CacheDir holds the built binaries; DefaultCacheDir when empty.
	CacheDir string

	// Log receives progress lines; discarded when nil.
	Log io.Writer
}

// Btcd is the stack's chain backend.
type Btcd struct {
	RPCHost  string
	P2PHost  string
	CertPath string
	User     string
	Pass     string
}

// Node is one lnd node of the stack, with what a test needs to reach it.
type Node struct {
	Name    string
	Pubkey  string
	LndDir  string
	RPCHost string
	P2PHost string

	TLSCertPath          string
	MacaroonDir          string
	AdminMacaroonPath    string
	InvoiceMacaroonPath  string
	ReadonlyMacaroonPath string

	proc *process
	lnd  *lightning.Lnd
}

// Stack is a running regtest chain with alice (the buyer) and bob (the
// seller) and an active 1,000,000 sat channel from alice to bob.
type Stack struct {
	Dir     string
	Network string
	Btcd    Btcd
	Alice   *Node
	Bob     *Node

	bins     Binaries
	log      io.Writer
	ownsDir  bool
	btcdProc *process
	btcdArgs []string
}

// Start builds the binaries if needed and brings up the whole stack. On
// failure everything it started is stopped again. A bring-up that lost one
// of its free ports to another program before binding it is tried once
// more.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	s, err := start(ctx, opts)
	if err != nil && strings.Contains(err.Error(), "address already in use") {
		s, err = start(ctx, opts)
	}
	return s, err
}

// start is one bring-up attempt.
func start(ctx context.Context, opts Options) (s *Stack, err error) {
	log := opts.Log
	if log == nil {
		log = io.Discard
	}
	cacheDir := opts.CacheDir
	if cacheDir == "" {
		if cacheDir, err = DefaultCacheDir(); err != nil {
			return nil, err
		}
	}
	bins, err := EnsureBinaries(ctx, cacheDir, log)
	if err != nil {
		return nil, err
	}

	s = &Stack{Dir: opts.Dir, Network: Network, bins: bins, log: log}
	if s.Dir == "" {
		if s.Dir, err = os.MkdirTemp("", "l402-regtest-"); err != nil {
			return nil, err
		}
		s.ownsDir = true
	} else {
		killLeftovers(s.Dir, bins.Lnd, bins.Btcd)
	}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()

	start := time.Now()
	ports, err := freePorts(6)
	if err != nil {
		return s, err
	}
	s.Btcd = Btcd{
		RPCHost:  ports[0],
		P2PHost:  ports[1],
		CertPath: filepath.Join(s.Dir, "btcd", "rpc.cert"),
		User:     btcdUser,
		Pass:     btcdPass,
	}
	s.Alice = s.newNode("alice", ports[2], ports[3])
	s.Bob = s.newNode("bob", ports[4], ports[5])

	if err := s.startBtcd(ctx, ""); err != nil {
		return s, err
	}

	// The two nodes start side by side: each takes seconds.
	errs := make(chan error, 2)
	for _, n := range []*Node{s.Alice, s.Bob} {
		go func() { errs <- s.startLnd(ctx, n) }()
	}
	for range 2 {
		if e := <-errs; e != nil && err == nil {
			err = e
		}
	}
	if err != nil {
		return s, err
	}
	s.logf("btcd, alice and bob are up (%s)",
		time.Since(start).Round(time.Millisecond))

	if err := s.fundAlice(ctx); err != nil {
		return s, err
	}
	if err := s.openChannel(ctx); err != nil {
		return s, err
	}
	if err := s.probeRoute(ctx); err != nil {
		return s, err
	}
	s.logf("stack ready in %s: alice -> bob channel of %d sat is active",
		time.Since(start).Round(time.Millisecond), ChannelSize)
	return s, nil
}

// logf writes one progress line.
func (s *Stack) logf(format string, args ...any) {
	fmt.Fprintf(s.log, "regtest: "+format+"\n", args...)
}

// newNode lays out a node's directory and paths.
func (s *Stack) newNode(name, rpcHost, p2pHost string) *Node {
	dir := filepath.Join(s.Dir, name)
	macDir := filepath.Join(dir, "data", "chain", "bitcoin", Network)
	return &Node{
		Name:                 name,
		LndDir:               dir,
		RPCHost:              rpcHost,
		P2PHost:              p2pHost,
		TLSCertPath:          filepath.Join(dir, "tls.cert"),
		MacaroonDir:          macDir,
		AdminMacaroonPath:    filepath.Join(macDir, "admin.macaroon"),
		InvoiceMacaroonPath:  filepath.Join(macDir, "invoice.macaroon"),
		ReadonlyMacaroonPath: filepath.Join(macDir, "readonly.macaroon"),
	}
}

// freePorts returns n distinct free 127.0.0.1 ports, holding them all open
// until every one is chosen.
func freePorts(n int) ([]string, error) {
	var (
		out []string
		lns []net.Listener
	)
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("no free port: %w", err)
		}
		lns = append(lns, l)
		out = append(out, l.Addr().String())
	}
	return out, nil
}

// startBtcd starts (or restarts) btcd, mining to miningAddr when set.
func (s *Stack) startBtcd(ctx context.Context, miningAddr string) error {
	dir := filepath.Join(s.Dir, "btcd")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	args := []string{
		"--regtest",
		"--datadir=" + filepath.Join(dir, "data"),
		"--logdir=" + filepath.Join(dir, "logs"),
		"--rpcuser=" + btcdUser,
		"--rpcpass=" + btcdPass,
		"--rpclisten=" + s.Btcd.RPCHost,
		"--listen=" + s.Btcd.P2PHost,
		"--rpccert=" + s.Btcd.CertPath,
		"--rpckey=" + filepath.Join(dir, "rpc.key"),
		"--txindex",
		"--nobanning",
		"--nostalldetect",
		"--trickleinterval=100ms",
		"--debuglevel=info",
	}
	if miningAddr != "" {
		args = append(args, "--miningaddr="+miningAddr)
	}

	p, err := startProcess("btcd", s.bins.Btcd, args,
		filepath.Join(dir, "btcd.out"), filepath.Join(dir, "btcd.pid"))
	if err != nil {
		return err
	}
	s.btcdProc = p

	// Ready once its RPC answers.
	return waitFor(ctx, 90*time.Second, p, func(ctx context.Context) error {
		c, err := s.btcdClient()
		if err != nil {
			return err
		}
		defer c.Shutdown()
		_, err = c.GetBlockCount()
		return err
	})
}

// btcdClient returns an RPC client for btcd.
func (s *Stack) btcdClient() (*rpcclient.Client, error) {
	cert, err := os.ReadFile(s.Btcd.CertPath)
	if err != nil {
		return nil, err
	}
	return rpcclient.New(&rpcclient.ConnConfig{
		Host:         s.Btcd.RPCHost,
		User:         s.Btcd.User,
		Pass:         s.Btcd.Pass,
		Certificates: cert,
		HTTPPostMode: true,
	}, nil)
}

// mine mines n blocks to btcd's mining address.
func (s *Stack) mine(n uint32) error {
	c, err := s.btcdClient()
	if err != nil {
		return err
	}
	defer c.Shutdown()
	if _, err := c.Generate(n); err != nil {
		return fmt.Errorf("unable to mine %d blocks: %w", n, err)
	}
	return nil
}

// startLnd starts one lnd node and waits until its RPC answers.
func (s *Stack) startLnd(ctx context.Context, n *Node) error {
	if err := os.MkdirAll(n.LndDir, 0o700); err != nil {
		return err
	}
	// The RPC address and the network are in lnd.conf, as an operator
	// would keep them, so that `l402 setup` finds them there.
	conf := fmt.Sprintf("[Application Options]\nrpclisten=%s\n\n"+
		"[Bitcoin]\nbitcoin.regtest=true\n", n.RPCHost)
	if err := os.WriteFile(filepath.Join(n.LndDir, "lnd.conf"),
		[]byte(conf), 0o600); err != nil {
		return err
	}
	args := []string{
		"--lnddir=" + n.LndDir,
		"--alias=" + n.Name,
		"--noseedbackup",
		"--nobootstrap",
		"--norest",
		"--bitcoin.node=btcd",
		"--btcd.rpchost=" + s.Btcd.RPCHost,
		"--btcd.rpcuser=" + s.Btcd.User,
		"--btcd.rpcpass=" + s.Btcd.Pass,
		"--btcd.rpccert=" + s.Btcd.CertPath,
		"--listen=" + n.P2PHost,
		"--externalip=" + n.P2PHost,
		"--debuglevel=info",
		"--bitcoin.defaultchanconfs=1",
		"--trickledelay=50",
		"--gossip.sub-batch-delay=5ms",
		"--db.batch-commit-interval=10ms",
		"--accept-keysend",
	}
	p, err := startProcess(n.Name, s.bins.Lnd, args,
		filepath.Join(n.LndDir, "lnd.out"), filepath.Join(n.LndDir,
			"lnd.pid"))
	if err != nil {
		return err
	}
	n.proc = p

	// lnd writes its TLS certificate and macaroons as it starts, and not
	// atomically: a file can exist and still be empty or half written
	// for a moment (seen under load: "macaroon file ... is empty"). The
	// client is made once both files exist, are not empty, and load.
	err = waitFor(ctx, 3*time.Minute, p, func(ctx context.Context) error {
		for _, f := range []string{n.TLSCertPath, n.AdminMacaroonPath} {
			fi, err := os.Stat(f)
			if err != nil {
				return err
			}
			if fi.Size() == 0 {
				return fmt.Errorf("%s is still empty", f)
			}
		}
		lnd, err := lightning.NewLnd(lightning.LndConfig{
			Name:         n.Name,
			Host:         n.RPCHost,
			TLSCertPath:  n.TLSCertPath,
			MacaroonPath: n.AdminMacaroonPath,
			CallTimeout:  10 * time.Second,
		})
		if err != nil {
			return err
		}
		n.lnd = lnd
		return nil
	})
	if err != nil {
		return err
	}
	return waitFor(ctx, 3*time.Minute, p, func(ctx context.Context) error {
		info, err := n.lnd.Info(ctx)
		if err != nil {
			return err
		}
		n.Pubkey = info.Pubkey
		return nil
	})
}

// attemptTimeout bounds one readiness check, so that a hung call cannot
// stall the bring-up.
const attemptTimeout = 10 * time.Second

// waitFor retries check until it succeeds, the process dies, the timeout
// passes or ctx ends. Each attempt gets its own deadline. The timeouts
// its callers give are three times what an idle 2-core machine needs:
// go test starts a stack per package, two at once, and lnd that takes
// 30 s alone took over a minute beside other builds (a CI run gave up).
func waitFor(ctx context.Context, timeout time.Duration, p *process,
	check func(context.Context) error) error {

	deadline := time.Now().Add(timeout)
	for {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		err := check(actx)
		cancel()
		if err == nil {
			return nil
		}
		if p != nil && p.exited() {
			return p.diedError()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gave up after %s: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// fundAlice restarts btcd to mine to a fresh address of alice's, then mines
// enough blocks for the coinbase to mature.
func (s *Stack) fundAlice(ctx context.Context) error {
	conn := s.Alice.lnd.Conn()
	actx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	addr := &regtestrpc.NewAddressResponse{}
	err := conn.Invoke(actx, methodNewAddress, &regtestrpc.NewAddressRequest{
		Type: regtestrpc.AddressType_WITNESS_PUBKEY_HASH,
	}, addr)
	if err != nil {
		return fmt.Errorf("alice: NewAddress: %w", err)
	}

	// btcd's generate needs --miningaddr, which is only read at start.
	s.btcdProc.stop(10 * time.Second)
	if err := s.startBtcd(ctx, addr.Address); err != nil {
		return fmt.Errorf("unable to restart btcd: %w", err)
	}

	// 100 blocks for coinbase maturity, and some spare.
	if err := s.mine(110); err != nil {
		return err
	}
	err = waitFor(ctx, 3*time.Minute, s.Alice.proc, func(ctx context.Context) error {
		bal := &regtestrpc.WalletBalanceResponse{}
		err := conn.Invoke(ctx, methodWalletBalance,
			&regtestrpc.WalletBalanceRequest{}, bal)
		if err != nil {
			return err
		}
		if bal.ConfirmedBalance < 2*ChannelSize {
			return fmt.Errorf("alice's confirmed balance is %d sat",
				bal.ConfirmedBalance)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("alice was not funded: %w", err)
	}
	s.logf("alice funded")
	return s.waitSynced(ctx)
}

// waitSynced waits until both nodes are synced to the chain.
func (s *Stack) waitSynced(ctx context.Context) error {
	for _, n := range []*Node{s.Alice, s.Bob} {
		err := waitFor(ctx, 3*time.Minute, n.proc, func(ctx context.Context) error {
			info, err := n.lnd.Info(ctx)
			if err != nil {
				return err
			}
			if !info.Synced {
				return fmt.Errorf("%s is not synced at height %d",
					n.Name, info.BlockHeight)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// openChannel connects alice to bob and opens the channel, mining until it
// is active on both sides.
func (s *Stack) openChannel(ctx context.Context) error {
	conn := s.Alice.lnd.Conn()
	actx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	err := conn.Invoke(actx, methodConnectPeer, &regtestrpc.ConnectPeerRequest{
		Addr: &regtestrpc.LightningAddress{
			Pubkey: s.Bob.Pubkey,
			Host:   s.Bob.P2PHost,
		},
		Perm: true,
	}, &regtestrpc.ConnectPeerResponse{})
	if err != nil {
		return fmt.Errorf("alice: ConnectPeer bob: %w", err)
	}

	bobPub, err := hex.DecodeString(s.Bob.Pubkey)
	if err != nil {
		return err
	}

	// The peer connection is not always usable the moment ConnectPeer
	// returns: retry the open briefly.
	err = waitFor(ctx, 90*time.Second, s.Alice.proc, func(ctx context.Context) error {
		return conn.Invoke(ctx, methodOpenChannelSync,
			&regtestrpc.OpenChannelRequest{
				NodePubkey:         bobPub,
				LocalFundingAmount: ChannelSize,
			}, &regtestrpc.ChannelPoint{})
	})
	if err != nil {
		return fmt.Errorf("alice: OpenChannel to bob: %w", err)
	}
	if err := s.mine(6); err != nil {
		return err
	}

	for _, n := range []*Node{s.Alice, s.Bob} {
		c := n.lnd.Conn()
		err := waitFor(ctx, 3*time.Minute, n.proc, func(ctx context.Context) error {
			resp := &lndrpc.ListChannelsResponse{}
			err := c.Invoke(ctx, methodListChannels,
				&lndrpc.ListChannelsRequest{ActiveOnly: true}, resp)
			if err != nil {
				return err
			}
			if len(resp.Channels) == 0 {
				return fmt.Errorf("%s has no active channel", n.Name)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	s.logf("channel alice -> bob active")
	return nil
}

// probeRoute pays a random hash from alice to bob until bob answers that
// he knows no such invoice: then the channel carries payments. A channel
// reported active can still fail for about a second.
func (s *Stack) probeRoute(ctx context.Context) error {
	conn := s.Alice.lnd.Conn()
	bobPub, err := hex.DecodeString(s.Bob.Pubkey)
	if err != nil {
		return err
	}

	return waitFor(ctx, 90*time.Second, s.Alice.proc, func(ctx context.Context) error {
		var hash [32]byte
		if _, err := rand.Read(hash[:]); err != nil {
			return err
		}
		stream, err := conn.NewStream(ctx,
			&grpc.StreamDesc{ServerStreams: true}, methodSendPaymentV2)
		if err != nil {
			return err
		}
		err = stream.SendMsg(&lndrpc.SendPaymentRequest{
			Dest:              bobPub,
			Amt:               1000,
			PaymentHash:       hash[:],
			FinalCltvDelta:    40,
			TimeoutSeconds:    5,
			FeeLimitSat:       10,
			NoInflightUpdates: true,
		})
		if err != nil {
			return err
		}
		if err := stream.CloseSend(); err != nil {
			return err
		}
		for {
			p := &lndrpc.Payment{}
			if err := stream.RecvMsg(p); err != nil {
				return err
			}
			switch p.Status {
			case lndrpc.Payment_FAILED:
				if p.FailureReason == lndrpc.PaymentFailureReason_FAILURE_REASON_INCORRECT_PAYMENT_DETAILS {
					return nil
				}
				return fmt.Errorf("probe failed: %s", p.FailureReason)
			case lndrpc.Payment_SUCCEEDED:
				return errors.New("probe to a random hash succeeded")
			}
		}
	})
}

// Stop stops every process of the stack by PID, lnd first, and removes the
// directory if Start made it. It is safe to call more than once and on a
// half-started stack.
func (s *Stack) Stop() {
	if s == nil {
		return
	}
	for _, n := range []*Node{s.Alice, s.Bob} {
		if n == nil {
			continue
		}
		if n.lnd != nil {
			n.lnd.Close()
			n.lnd = nil
		}
		if n.proc != nil {
			n.proc.stop(15 * time.Second)
		}
	}
	if s.btcdProc != nil {
		s.btcdProc.stop(10 * time.Second)
	}
	if s.ownsDir && s.Dir != "" {
		os.RemoveAll(s.Dir)
	}
}

// Lnd returns an admin client for the node, for tests.
func (n *Node) Lnd() *lightning.Lnd { return n.lnd }
