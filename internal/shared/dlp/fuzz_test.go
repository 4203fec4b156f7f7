package dlp

import (
	"testing"
)

// FuzzPlantedSecretIsAlwaysFound plants a known token, set off by spaces,
// into arbitrary bytes: whatever surrounds it, the scan must find it, and
// split anywhere, a stream scan must too.
func FuzzPlantedSecretIsAlwaysFound(f *testing.F) {
	s := newScanner(f, nil)
	planted := plantedSecrets(f)
	ids := []string{"github-pat", "aws-access-token", "openai-api-key", "private-key", "slack-webhook-url", "anthropic-api-key"}
	f.Add([]byte("hello"), uint8(0), uint16(3), uint16(10))
	f.Add([]byte("ghp_ xoxb- asia -----begin private key"), uint8(3), uint16(0), uint16(500))
	f.Fuzz(func(t *testing.T, noise []byte, which uint8, at, split uint16) {
		id := ids[int(which)%len(ids)]
		pos := int(at) % (len(noise) + 1)
		data := append(append(append([]byte{}, noise[:pos]...), " "+planted[id]+"\n"...), noise[pos:]...)
		found, err := s.Scan(t.Context(), data, nil)
		if err != nil || found == nil {
			t.Fatalf("planted %s not found (err %v) in %q", id, err, data)
		}
		cut := int(split) % (len(data) + 1)
		st := s.NewStream(nil)
		sf, err := st.Write(t.Context(), data[:cut])
		if sf == nil && err == nil {
			sf, err = st.Write(t.Context(), data[cut:])
		}
		if err != nil || sf == nil {
			t.Fatalf("stream split at %d missed %s (err %v)", cut, id, err)
		}
	})
}
