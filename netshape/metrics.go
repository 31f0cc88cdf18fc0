package netshape

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics is a prometheus.Collector of a Host's traffic counters, read at scrape time
// with one netlink link dump. Register it on the daemon's own registry.
//
// Directions are the sandbox's (and, for the uplink, the host's) point of view:
// receive = download (into the sandbox / from the remote into the host),
// transmit = upload (out of the sandbox / from the host to the remote).
//
//	faaslab_sandbox_network_receive_bytes_total{function}
//	faaslab_sandbox_network_transmit_bytes_total{function}
//	faaslab_sandbox_network_receive_packets_total{function}
//	faaslab_sandbox_network_transmit_packets_total{function}
//	faaslab_uplink_receive_bytes_total, faaslab_uplink_transmit_bytes_total
//	faaslab_uplink_receive_packets_total, faaslab_uplink_transmit_packets_total
//	faaslab_network_attached_sandboxes (gauge)
//
// Sandbox series are summed per function (labels stay bounded however many sandboxes
// come and go) and include sandboxes already detached, so they never go down.
type Metrics struct {
	h                              *Host
	sbRxBytes, sbTxBytes, sbRxPkts *prometheus.Desc
	sbTxPkts                       *prometheus.Desc
	upRxBytes, upTxBytes, upRxPkts *prometheus.Desc
	upTxPkts, sandboxes            *prometheus.Desc
}

// NewMetrics returns a collector for h.
func NewMetrics(h *Host) *Metrics {
	fn := []string{"function"}
	d := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc("faaslab_"+name, help, labels, nil)
	}
	return &Metrics{
		h:         h,
		sbRxBytes: d("sandbox_network_receive_bytes_total", "Bytes received by the function's sandboxes (download), from their host-end veths.", fn),
		sbTxBytes: d("sandbox_network_transmit_bytes_total", "Bytes sent by the function's sandboxes (upload), from their host-end veths.", fn),
		sbRxPkts:  d("sandbox_network_receive_packets_total", "Packets received by the function's sandboxes (download).", fn),
		sbTxPkts:  d("sandbox_network_transmit_packets_total", "Packets sent by the function's sandboxes (upload).", fn),
		upRxBytes: d("uplink_receive_bytes_total", "Bytes the host received from the remote over the emulated NIC (download).", nil),
		upTxBytes: d("uplink_transmit_bytes_total", "Bytes the host sent to the remote over the emulated NIC (upload).", nil),
		upRxPkts:  d("uplink_receive_packets_total", "Packets the host received from the remote (download).", nil),
		upTxPkts:  d("uplink_transmit_packets_total", "Packets the host sent to the remote (upload).", nil),
		sandboxes: d("network_attached_sandboxes", "Sandboxes attached to the bridge.", nil),
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range m.descs() {
		ch <- d
	}
}

func (m *Metrics) descs() []*prometheus.Desc {
	return []*prometheus.Desc{m.sbRxBytes, m.sbTxBytes, m.sbRxPkts, m.sbTxPkts,
		m.upRxBytes, m.upTxBytes, m.upRxPkts, m.upTxPkts, m.sandboxes}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	s, perFn, err := m.h.sample(true)
	if err != nil {
		for _, d := range m.descs() {
			ch <- prometheus.NewInvalidMetric(d, err)
		}
		return
	}
	c := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for fn, t := range perFn {
		c(m.sbRxBytes, t.DownloadBytes, fn)
		c(m.sbTxBytes, t.UploadBytes, fn)
		c(m.sbRxPkts, t.DownloadPackets, fn)
		c(m.sbTxPkts, t.UploadPackets, fn)
	}
	c(m.upRxBytes, s.Uplink.DownloadBytes)
	c(m.upTxBytes, s.Uplink.UploadBytes)
	c(m.upRxPkts, s.Uplink.DownloadPackets)
	c(m.upTxPkts, s.Uplink.UploadPackets)
	ch <- prometheus.MustNewConstMetric(m.sandboxes, prometheus.GaugeValue, float64(len(s.Sandboxes)))
}
