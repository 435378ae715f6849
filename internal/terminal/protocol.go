package terminal

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
)

// Client-to-server opcodes (docs/terminal-protocol.md).
const (
	OpInput  byte = '0' // raw keystrokes
	OpResize byte = '1' // JSON {"cols","rows"}
	OpHello  byte = '2' // JSON {"seq"}
	OpAck    byte = '3' // 8-byte big-endian position
	OpPing   byte = '4' // 8 opaque bytes
)

// Server-to-client opcodes.
const (
	OpOutput     byte = '0' // raw terminal output
	OpHelloReply byte = '2' // JSON HelloReply
	OpExit       byte = '3' // JSON {"code"}
	OpPong       byte = '4' // the ping's 8 bytes
	OpRole       byte = '5' // JSON RoleNotice
	OpNotice     byte = '6' // JSON Notice
)

// Close codes beyond the standard ones.
const (
	CloseReplaced       = 4000 // another driver took over the tab
	CloseSessionEnded   = 4004 // the lab session ended or expired
	CloseSignedOut      = 4401 // the login that opened the socket ended (logout, expiry, password reset)
	CloseTooManyViewers = 4029 // the terminal has Config.MaxViewers viewers
	CloseNormal         = 1000 // shell exited, tab closed
	CloseGoingAway      = 1001 // server shutting down
	closeUnsupported    = 1003
	closePolicy         = 1008
	closeTooBig         = 1009
	closeInternalError  = 1011
)

// Role is how a connection takes part in a terminal.
type Role string

const (
	// Driver is the learner: their input reaches the shell, their window
	// size is the terminal's, and flow control follows their acks.
	Driver Role = "driver"
	// Viewer watches: input and resizes are dropped, and it never slows
	// the driver.
	Viewer Role = "viewer"
)

// Resize is the payload of OpResize.
type Resize struct {
	Cols uint `json:"cols"`
	Rows uint `json:"rows"`
}

func (r Resize) valid() bool { return r.Cols >= 1 && r.Rows >= 1 && r.Cols <= 1000 && r.Rows <= 1000 }

// Hello is the payload of OpHello.
type Hello struct {
	Seq uint64 `json:"seq"`
}

// HelloReply is the payload of OpHelloReply. The server sends it first
// after a hello, and again (with Reset) whenever it resyncs a viewer.
type HelloReply struct {
	Tab   string `json:"tab"`
	Seq   uint64 `json:"seq"`
	Reset bool   `json:"reset"`
	Role  Role   `json:"role"`
	Cols  uint   `json:"cols"`
	Rows  uint   `json:"rows"`
}

// ExitNotice is the payload of OpExit.
type ExitNotice struct {
	Code int `json:"code"`
}

// RoleNotice is the payload of OpRole. It also carries the driver's
// window size, which viewers need; it is sent again when that changes.
type RoleNotice struct {
	Role    Role `json:"role"`
	Viewers int  `json:"viewers"`
	Cols    uint `json:"cols"`
	Rows    uint `json:"rows"`
}

// Notice is the payload of OpNotice: something the server tells the
// people at a terminal (a disk quota warning, say), for the page to show
// beside the terminal, never inside it.
type Notice struct {
	Text string `json:"text"`
}

// CloseError is a context cause (context.WithCancelCause) that makes
// Serve close the socket with Code and Text instead of "going away".
type CloseError struct {
	Code int
	Text string
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("closed by the server: %d %s", e.Code, e.Text)
}

func jsonFrame(op byte, v any) []byte {
	b, _ := json.Marshal(v) // the payload types cannot fail to encode
	return append([]byte{op}, b...)
}

// AckFrame encodes an ack of position pos (for clients and tests).
func AckFrame(pos uint64) []byte {
	f := make([]byte, 9)
	f[0] = OpAck
	binary.BigEndian.PutUint64(f[1:], pos)
	return f
}

// HelloFrame encodes a hello that has shown output up to seq.
func HelloFrame(seq uint64) []byte { return jsonFrame(OpHello, Hello{Seq: seq}) }
