package hashmail

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/l402/l402/internal/lnc/hashmailpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"nhooyr.io/websocket"
)

// wsWriteTimeout bounds one websocket write: a reader that does not take a
// message in that time loses its call (LNC resends what was lost).
const wsWriteTimeout = 10 * time.Second

// The JSON forms of LNC's websocket protocol are grpc-gateway's: field
// names as in the proto, every field present, bytes in base64.
var (
	wsMarshal   = protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}
	wsUnmarshal = protojson.UnmarshalOptions{DiscardUnknown: true}
)

// acceptWS upgrades a request to a websocket. Any origin may connect: the
// relay keeps no cookie or other ambient credential, the stream ID is the
// only key, and LNC's web clients run on other origins.
func (s *Server) acceptWS(w http.ResponseWriter, r *http.Request) (
	*websocket.Conn, context.Context, context.CancelFunc, error) {

	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		InsecureSkipVerify: true,
		CompressionMode:    websocket.CompressionDisabled,
	})
	if err != nil {
		return nil, nil, nil, err
	}

	// A base64 message in its JSON envelope, with room for the ID.
	c.SetReadLimit(int64(s.cfg.MaxMsgSize)*4/3 + 1024)

	ctx, cancel := context.WithCancel(r.Context())
	stop := context.AfterFunc(s.ctx, cancel)
	return c, ctx, func() { stop(); cancel() }, nil
}

// serveReceive is the read side of a stream over a websocket: the client
// sends one CipherBoxDesc, then receives {"result": CipherBox} for every
// message, or one {"error": ...} before the relay closes the socket.
func (s *Server) serveReceive(w http.ResponseWriter, r *http.Request) {
	c, ctx, cancel, err := s.acceptWS(w, r)
	if err != nil {
		return
	}
	defer cancel()

	desc := &hashmailpb.CipherBoxDesc{}
	if err := readWS(ctx, c, desc); err != nil {
		closeWS(ctx, c, err)
		return
	}

	// The client sends nothing more; CloseRead answers its control
	// frames (its pongs too) and ends ctx when it hangs up.
	ctx = c.CloseRead(ctx)
	if s.cfg.PingInterval > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithCancel(ctx)
		defer stop()
		go s.ping(ctx, c, stop)
	}
	closeWS(ctx, c, s.receiveWS(ctx, c, desc))
}

// ping pings the websocket every PingInterval until ctx ends; a pong that
// does not come within PongWait ends the socket's stream (stop).
func (s *Server) ping(ctx context.Context, c *websocket.Conn,
	stop context.CancelFunc) {

	t := time.NewTicker(s.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, s.cfg.PongWait)
		err := c.Ping(pctx)
		cancel()
		if err != nil {
			stop()
			return
		}
	}
}

// receiveWS attaches as the reader of a stream and writes every message to
// the websocket until the stream, the socket or the server ends.
func (s *Server) receiveWS(ctx context.Context, c *websocket.Conn,
	desc *hashmailpb.CipherBoxDesc) error {

	st, err := s.attach(desc.GetStreamId(), true)
	if err != nil {
		return err
	}
	defer s.detach(st, true)

	for {
		msg, err := s.next(ctx, st)
		if err != nil {
			return err
		}
		box := &hashmailpb.CipherBox{Desc: desc, Msg: msg}
		if err := writeResult(ctx, c, box); err != nil {
			return err
		}
	}
}

// serveSend is the write side of a stream over a websocket: every message
// the client sends is a CipherBox, the first one naming the stream.
func (s *Server) serveSend(w http.ResponseWriter, r *http.Request) {
	c, ctx, cancel, err := s.acceptWS(w, r)
	if err != nil {
		return
	}
	defer cancel()

	closeWS(ctx, c, s.sendWS(ctx, c))
}

// sendWS reads CipherBoxes from the websocket and queues their messages.
func (s *Server) sendWS(ctx context.Context, c *websocket.Conn) error {
	first := &hashmailpb.CipherBox{}
	if err := readWS(ctx, c, first); err != nil {
		return err
	}
	rawID := first.GetDesc().GetStreamId()
	st, err := s.attach(rawID, false)
	if err != nil {
		return err
	}
	defer s.detach(st, false)

	for box := first; ; {
		if err := checkSameStream(rawID, box); err != nil {
			return err
		}
		if err := s.put(ctx, st, box.GetMsg()); err != nil {
			return err
		}

		box = &hashmailpb.CipherBox{}
		if err := readWS(ctx, c, box); err != nil {
			return err
		}
	}
}

// readWS reads one JSON message into m.
func readWS(ctx context.Context, c *websocket.Conn, m proto.Message) error {
	_, data, err := c.Read(ctx)
	if err != nil {
		return err
	}
	if err := wsUnmarshal.Unmarshal(data, m); err != nil {
		return status.Errorf(codes.InvalidArgument, "message is not a JSON %s: %v",
			m.ProtoReflect().Descriptor().Name(), err)
	}
	return nil
}

// writeResult writes one message in grpc-gateway's stream envelope.
func writeResult(ctx context.Context, c *websocket.Conn,
	box *hashmailpb.CipherBox) error {

	body, err := wsMarshal.Marshal(box)
	if err != nil {
		return err
	}
	msg := make([]byte, 0, len(body)+11)
	msg = append(msg, `{"result":`...)
	msg = append(msg, body...)
	msg = append(msg, '}')

	ctx, cancel := context.WithTimeout(ctx, wsWriteTimeout)
	defer cancel()
	return c.Write(ctx, websocket.MessageText, msg)
}

// wsError is grpc-gateway's error body.
type wsError struct {
	Code    int32    `json:"code"`
	Message string   `json:"message"`
	Details []string `json:"details"`
}

// closeWS ends a websocket. An error that came from the relay (a gRPC
// status) is first sent as {"error": ...}, whose message LNC's client
// reads; one from the socket itself means it is already gone.
func closeWS(ctx context.Context, c *websocket.Conn, err error) {
	st, ok := status.FromError(err)
	if err == nil || !ok || st.Code() == codes.Canceled ||
		st.Code() == codes.DeadlineExceeded {
		c.Close(websocket.StatusNormalClosure, "")
		return
	}

	body, _ := json.Marshal(map[string]wsError{"error": {
		Code:    int32(st.Code()),
		Message: st.Message(),
		Details: []string{},
	}})
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx),
		wsWriteTimeout)
	_ = c.Write(wctx, websocket.MessageText, body)
	cancel()
	c.Close(websocket.StatusNormalClosure, "")
}
