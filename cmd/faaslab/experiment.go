package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/faaslab/faaslab/experiments/plan"
	"github.com/faaslab/faaslab/experiments/record"
	"github.com/faaslab/faaslab/experiments/report"
	"github.com/faaslab/faaslab/experiments/run"
	"github.com/faaslab/faaslab/experiments/specs"
	"github.com/faaslab/faaslab/experiments/target"
)

// experimentOptions are `faaslab experiment run`'s flags; defaultExperimentOptions holds
// every default. The private daemon's names, subnet and ports differ from `faaslab
// daemon`'s defaults so the two can run side by side.
type experimentOptions struct {
	quick     bool
	noReuse   bool
	hosts     int
	resume    string
	endpoints []string
	remote    daemonFlags // --token-file of the --endpoint daemons
	out       string
	daemon    target.DaemonOptions
}

func defaultExperimentOptions() experimentOptions {
	return experimentOptions{
		out:   "results",
		hosts: 1,
		daemon: target.DaemonOptions{
			Prefix:       "faaslabx",
			Subnet:       "10.212.0.0/16",
			CgroupParent: "/faaslabx",
			Listen:       "127.0.0.1:3121",
			RuntimePort:  9121,
		},
	}
}

func newExperimentCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "experiment", Short: "Reproduce the paper's figures and compare shaping policies (see docs/experiments.md)"}
	cmd.AddCommand(newExperimentListCmd(), newExperimentRunCmd(), newExperimentReportCmd(), newExperimentCompareCmd())
	return cmd
}

func newExperimentListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the built-in specs with their trial counts (full and --quick)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SPEC\tTRIALS\tQUICK\tDESCRIPTION")
			for _, name := range specs.Names() {
				s, err := specs.Load(name)
				if err != nil {
					return err
				}
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", name, len(plan.Expand(s, false)), len(plan.Expand(s, true)), s.Description)
			}
			return tw.Flush()
		},
	}
}

func newExperimentRunCmd() *cobra.Command {
	o := defaultExperimentOptions()
	cmd := &cobra.Command{
		Use:   "run SPEC... | all | --resume RUN_DIR",
		Short: "Run specs (built-in names or YAML files) and write their reports",
		Long: `Run one or more specs — a built-in name (faaslab experiment list), "all" for every
built-in, or a YAML file — into results/<spec>/<run-id>/, then write each run's report and
print the trend checks. Without --endpoint the runner starts its own daemon (a private
prefix, subnet, cgroup parent and port; stopped at the end), or --hosts of them. A trial
an earlier spec of the same command measured (fig7 reads fig6's downloads, today's
paper-model half is fig4 and fig6) is copied, not measured again (--no-reuse measures it).
Ctrl-C stops cleanly; the run directory can then be finished with --resume.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExperiments(cmd, args, o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.quick, "quick", o.quick, "run at the quick scale (fewer repetitions and objects, shorter iperf3)")
	f.BoolVar(&o.noReuse, "no-reuse", o.noReuse, "measure every spec's trials itself, even those an earlier spec of this command measured (fig7 = fig6's downloads; today's paper half = fig4 and fig6)")
	f.StringVar(&o.resume, "resume", o.resume, "finish the run in this run directory (skips its finished trials)")
	f.IntVar(&o.hosts, "hosts", o.hosts, "private daemons: emulated hosts on this machine, each with its own NIC; trials run in parallel, one per host (sound only while the machine has CPU to spare: docs/experiments.md)")
	f.StringSliceVar(&o.endpoints, "endpoint", o.endpoints, "a running daemon, e.g. http://10.0.0.5:3001; repeat for one per host")
	o.remote.bindToken(cmd) // for --endpoint daemons beyond loopback
	f.StringVar(&o.out, "out", o.out, "results directory")
	f.StringVar(&o.daemon.Prefix, "daemon-prefix", o.daemon.Prefix, "private daemon: link/netns prefix")
	f.StringVar(&o.daemon.Subnet, "daemon-subnet", o.daemon.Subnet, "private daemon: sandbox subnet")
	f.StringVar(&o.daemon.CgroupParent, "daemon-cgroup-parent", o.daemon.CgroupParent, "private daemon: parent cgroup")
	f.StringVar(&o.daemon.Listen, "daemon-listen", o.daemon.Listen, "private daemon: API address")
	f.IntVar(&o.daemon.RuntimePort, "daemon-runtime-port", o.daemon.RuntimePort, "private daemon: Runtime API port")
	f.StringVar(&o.daemon.RuntimeBin, "runtime-bin", o.daemon.RuntimeBin, "private daemon: the faaslab-runtime bootstrap (default: next to faaslab)")
	return cmd
}

// runExperiments runs every job against one fleet (a private daemon is started once and
// restarted only when a spec needs another CPU model or profile), then reports.
func runExperiments(cmd *cobra.Command, args []string, o experimentOptions) error {
	jobs, err := run.Jobs(args, o.resume, o.quick, o.out, time.Now())
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	fleet, closeFleet, err := experimentFleet(o)
	if err != nil {
		return err
	}
	defer closeFleet()

	stderr := cmd.ErrOrStderr()
	sums, problems, err := run.ExecuteAll(ctx, jobs, fleet, !o.noReuse, func(job run.Job) func(run.Event) {
		fmt.Fprintf(stderr, "%s: %d trials into %s\n", job.Spec.Name, len(job.Manifest.Trials), job.Dir)
		return run.NewProgress(stderr, fdOf(stderr), job.Spec.Name).Event
	})
	if err != nil {
		return err
	}
	closeFleet()
	err = printExperimentSummary(cmd, sums)
	for _, p := range problems {
		fmt.Fprintln(stderr, "faaslab:", p)
	}
	if len(problems) > 0 {
		return errors.Join(err, fmt.Errorf("%d of %d specs did not run cleanly (above)", len(problems), len(jobs)))
	}
	return err
}

// experimentFleet is the daemons given with --endpoint, or private ones started here.
func experimentFleet(o experimentOptions) (target.Fleet, func(), error) {
	if len(o.endpoints) > 0 {
		return &target.EndpointFleet{Endpoints: o.endpoints, Options: o.remote.opts}, func() {}, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	fleet, err := target.OpenLocalFleet(o.out, exe, o.daemon, o.hosts)
	if err != nil {
		return nil, nil, fmt.Errorf("--hosts: %w", err)
	}
	return fleet, func() {
		if err := fleet.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "faaslab: stopping the private daemon:", err)
		}
	}, nil
}

func newExperimentReportCmd() *cobra.Command {
	return runDirsCmd("report RUN_DIR...", "Redraw a run's summary, figures and report.md from its recorded files (nothing is rerun)", 1,
		func(cmd *cobra.Command, runs []*record.Run) error {
			var sums []report.Summary
			for _, r := range runs {
				sum, err := report.Write(r, r.Dir)
				if err != nil {
					return fmt.Errorf("report of %s: %w", r.Dir, err)
				}
				sums = append(sums, sum)
			}
			return printExperimentSummary(cmd, sums)
		})
}

func newExperimentCompareCmd() *cobra.Command {
	return runDirsCmd("compare RUN_DIR...", "Set the same points of several runs side by side (e.g. two policies, two hosts, two CPU models)", 2,
		func(cmd *cobra.Command, runs []*record.Run) error { return report.Compare(runs, cmd.OutOrStdout()) })
}

// runDirsCmd is a command over at least atLeast recorded run directories, loaded (and checked)
// before do sees them.
func runDirsCmd(use, short string, atLeast int, do func(*cobra.Command, []*record.Run) error) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.MinimumNArgs(atLeast),
		RunE: func(cmd *cobra.Command, args []string) error {
			runs, err := record.LoadAll(args)
			if err != nil {
				return err
			}
			return do(cmd, runs)
		},
	}
}

// printExperimentSummary prints every trend check and the reports' paths. A failing
// check this machine does not explain makes the command fail; an explained one (the report
// says what on this box accounts for it) does not.
func printExperimentSummary(cmd *cobra.Command, sums []report.Summary) error {
	out := cmd.OutOrStdout()
	fmt.Fprintln(out, "\nTrend checks")
	failed := report.PrintChecks(out, sums)
	unexplained := 0
	for _, s := range sums {
		unexplained += s.Unexplained()
	}
	if unexplained > 0 {
		return fmt.Errorf("%d of %d failing trend checks are not explained by this machine (see the reports)", unexplained, failed)
	}
	if failed > 0 {
		fmt.Fprintf(out, "\n%d trend checks failed, each explained by this machine (see the reports)\n", failed)
	}
	return nil
}

// fdOf is w's file descriptor when it is a file (a terminal or not), else -1.
func fdOf(w any) int {
	if f, ok := w.(*os.File); ok {
		return int(f.Fd())
	}
	return -1
}
