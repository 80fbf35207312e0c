// Command loadgen is Airwaves' listener load generator: subscribe-only LiveKit participants
// (github.com/livekit/server-sdk-go/v2) that read RTP packets off every subscribed audio track
// without decoding them, as LiveKit's own load tester does, and count packets received and lost
// (from RTP sequence numbers) per listener.
//
// It is driven line by line on stdin by bench/bench_scale.py, which gets each listener's token
// from the API's join route:
//
//	join <id> <ws url> <token>   connect one listener (at most -concurrency connecting at once)
//	report                       print one JSON report line of every listener's counters
//	quit                         disconnect everyone and exit
//
// and answers JSON lines on stdout: {"type":"joined"|"subscribed"|"failed", "id", "ms", "error"}
// and {"type":"report", ...}. Join time is from the start of the connection to the room being
// joined; subscribe time to the first RTP packet of the first audio track.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"
)

type listener struct {
	id       string
	room     *lksdk.Room
	packets  atomic.Int64 // RTP packets received (all audio tracks)
	expected atomic.Int64 // packets the sequence numbers say were sent since the first one seen
	bytes    atomic.Int64
	others   atomic.Int64 // participant connect/disconnect events received (visible fan-out)
}

// seqTracker extends 16-bit RTP sequence numbers and counts the span seen.
type seqTracker struct {
	started  bool
	first    int64
	highest  int64
	cycles   int64
	lastBase uint16
}

func (s *seqTracker) push(seq uint16) (newExpected int64) {
	if !s.started {
		s.started, s.lastBase = true, seq
		s.first, s.highest = int64(seq), int64(seq)
		return 1
	}
	if seq < s.lastBase && s.lastBase-seq > 1<<15 { // wrapped forward
		s.cycles += 1 << 16
	}
	s.lastBase = seq
	ext := s.cycles + int64(seq)
	if ext > s.highest {
		grew := ext - s.highest
		s.highest = ext
		return grew
	}
	return 0 // late or duplicate: already counted as expected
}

type out struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (o *out) send(v any) {
	b, _ := json.Marshal(v)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.w.Write(b)
	o.w.WriteByte('\n')
	o.w.Flush()
}

type event struct {
	Type  string  `json:"type"`
	ID    string  `json:"id"`
	Ms    float64 `json:"ms,omitempty"`
	Error string  `json:"error,omitempty"`
}

type report struct {
	Type       string  `json:"type"`
	Connected  int     `json:"connected"`
	Failed     int64   `json:"failed"`
	Packets    []int64 `json:"packets"`
	Expected   []int64 `json:"expected"`
	Bytes      int64   `json:"bytes"`
	Others     int64   `json:"participant_events"`
	Goroutines int     `json:"-"`
}

func main() {
	concurrency := flag.Int("concurrency", 20, "listeners connecting at once")
	flag.Parse()
	o := &out{w: bufio.NewWriter(os.Stdout)}

	var (
		mu        sync.Mutex
		listeners []*listener
		failed    atomic.Int64
		wg        sync.WaitGroup
	)
	slots := make(chan struct{}, *concurrency)

	join := func(id, url, token string) {
		defer wg.Done()
		slots <- struct{}{}
		defer func() { <-slots }()
		l := &listener{id: id}
		began := time.Now()
		var once sync.Once
		cb := lksdk.NewRoomCallback()
		cb.OnTrackSubscribed = func(track *webrtc.TrackRemote, _ *lksdk.RemoteTrackPublication, _ *lksdk.RemoteParticipant) {
			if track.Kind() != webrtc.RTPCodecTypeAudio {
				return
			}
			go func() {
				var seqs seqTracker
				for {
					pkt, _, err := track.ReadRTP()
					if err != nil {
						return
					}
					once.Do(func() { o.send(event{Type: "subscribed", ID: id, Ms: ms(time.Since(began))}) })
					l.packets.Add(1)
					l.bytes.Add(int64(len(pkt.Payload)))
					l.expected.Add(seqs.push(pkt.SequenceNumber))
				}
			}()
		}
		cb.OnParticipantConnected = func(*lksdk.RemoteParticipant) { l.others.Add(1) }
		cb.OnParticipantDisconnected = func(*lksdk.RemoteParticipant) { l.others.Add(1) }
		room, err := lksdk.ConnectToRoomWithToken(url, token, cb, lksdk.WithAutoSubscribe(true))
		if err != nil {
			failed.Add(1)
			o.send(event{Type: "failed", ID: id, Ms: ms(time.Since(began)), Error: err.Error()})
			return
		}
		l.room = room
		mu.Lock()
		listeners = append(listeners, l)
		mu.Unlock()
		o.send(event{Type: "joined", ID: id, Ms: ms(time.Since(began))})
	}

	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 64*1024), 1<<20)
	for in.Scan() {
		fields := strings.Fields(in.Text())
		if len(fields) == 0 {
			continue
		}
		switch fields[0] {
		case "join":
			if len(fields) != 4 {
				fmt.Fprintln(os.Stderr, "usage: join <id> <url> <token>")
				continue
			}
			wg.Add(1)
			go join(fields[1], fields[2], fields[3])
		case "report":
			mu.Lock()
			r := report{Type: "report", Connected: len(listeners), Failed: failed.Load()}
			for _, l := range listeners {
				r.Packets = append(r.Packets, l.packets.Load())
				r.Expected = append(r.Expected, l.expected.Load())
				r.Bytes += l.bytes.Load()
				r.Others += l.others.Load()
			}
			mu.Unlock()
			o.send(r)
		case "quit":
			wg.Wait()
			mu.Lock()
			var done sync.WaitGroup
			for _, l := range listeners {
				done.Add(1)
				go func(r *lksdk.Room) { defer done.Done(); r.Disconnect() }(l.room)
			}
			mu.Unlock()
			done.Wait()
			return
		}
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
