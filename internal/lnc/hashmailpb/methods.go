package hashmailpb

// The HashMail service's methods by their full gRPC names. The service
// keeps hashmailrpc's proto package on the wire, whatever package these
// messages are registered under: the mailbox relays and LNC's node side
// call and answer these paths.
const (
	ServiceName        = "hashmailrpc.HashMail"
	MethodNewCipherBox = "/" + ServiceName + "/NewCipherBox"
	MethodDelCipherBox = "/" + ServiceName + "/DelCipherBox"
	MethodSendStream   = "/" + ServiceName + "/SendStream"
	MethodRecvStream   = "/" + ServiceName + "/RecvStream"
)
