package manifest

import "testing"

func TestResourcesFields(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       Resources
	}{
		{"none declared", "supervise: false\n", Resources{}},
		{"empty block", "resources: {}\n", Resources{}},
		{"docker size, gigabytes", "resources: {memory: 4g}\n", Resources{Memory: 4 << 30}},
		{"docker size, upper case with b", "resources: {memory: 512MB}\n", Resources{Memory: 512 << 20}},
		{"docker size, GiB", "resources: {memory: 2GiB}\n", Resources{Memory: 2 << 30}},
		{"docker size, fraction", "resources: {memory: 1.5g}\n", Resources{Memory: 3 << 29}},
		{"plain bytes", "resources: {memory: 67108864}\n", Resources{Memory: 64 << 20}},
		{"docker's minimum", "resources: {memory: 6m}\n", Resources{Memory: 6 << 20}},
		{"cpus whole", "resources: {cpus: 2}\n", Resources{CPUs: 2}},
		{"cpus fraction", "resources: {cpus: 0.5}\n", Resources{CPUs: 0.5}},
		{"pids", "resources: {pids: 256}\n", Resources{Pids: 256}},
		{"all three", "resources:\n  memory: 8g\n  cpus: 1.25\n  pids: 4096\n", Resources{Memory: 8 << 30, CPUs: 1.25, Pids: 4096}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, ps, _ := loadBottle(t, tc.yaml)
			if len(ps) > 0 {
				t.Fatalf("problems:\n%s", Problems(ps))
			}
			if b.Resources != tc.want {
				t.Errorf("resources = %+v, want %+v", b.Resources, tc.want)
			}
		})
	}
}

func TestResourcesWithDefaults(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in       Resources
		hostCPUs int
		want     Resources
	}{
		{"all default", Resources{}, 8, Resources{Memory: 4 << 30, CPUs: 2, Pids: 1024}},
		{"default cpus capped by a one-CPU machine", Resources{}, 1, Resources{Memory: 4 << 30, CPUs: 1, Pids: 1024}},
		{"unknown machine", Resources{}, 0, Resources{Memory: 4 << 30, CPUs: 2, Pids: 1024}},
		{"declared values kept", Resources{Memory: 1 << 30, CPUs: 4, Pids: 100}, 2, Resources{Memory: 1 << 30, CPUs: 4, Pids: 100}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.in.WithDefaults(tc.hostCPUs); got != tc.want {
				t.Errorf("WithDefaults(%d) = %+v, want %+v", tc.hostCPUs, got, tc.want)
			}
		})
	}
}

func TestFormatMemory(t *testing.T) {
	for n, want := range map[int64]string{4 << 30: "4g", 512 << 20: "512m", 64 << 10: "64k", 3 << 29: "1536m", 1000: "1000", 6 << 20: "6m"} {
		if got := FormatMemory(n); got != want {
			t.Errorf("FormatMemory(%d) = %q, want %q", n, got, want)
		}
	}
}
