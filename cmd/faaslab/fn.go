package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/faaslab/faaslab/client"
)

func newFnCmd() *cobra.Command {
	cmd, d := daemonGroup("fn", "Create, inspect, invoke and delete functions on a running daemon")
	cmd.AddCommand(newFnCreateCmd(d), newFnUpdateCmd(d), newFnListCmd(d), newFnGetCmd(d), newFnDeleteCmd(d), newFnInvokeCmd(d))
	return cmd
}

// parseEnv turns KEY=VALUE flags into Lambda's Environment.Variables.
func parseEnv(pairs []string) (*client.Environment, error) {
	vars := map[string]string{}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--env %q: want KEY=VALUE", p)
		}
		vars[k] = v
	}
	return &client.Environment{Variables: vars}, nil
}

func newFnCreateCmd(d *daemonFlags) *cobra.Command {
	var runtime, handler, zipPath, image string
	var memoryMB, timeoutS int
	var env []string
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a function: a built-in handler (--handler echo) or a zip with a bootstrap (--zip)",
		Example: `  faaslab fn create hello --handler echo --memory 128
  faaslab fn create mine --runtime provided.al2023 --zip function.zip --memory 256 --timeout 10`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := client.CreateFunctionRequest{FunctionName: args[0], Runtime: runtime, Handler: handler,
				MemorySize: memoryMB, Timeout: timeoutS}
			switch {
			case zipPath != "":
				data, err := os.ReadFile(zipPath)
				if err != nil {
					return fmt.Errorf("read --zip: %w", err)
				}
				req.Code.ZipFile = data
				if runtime == "faaslab" {
					req.Runtime = "provided.al2023"
				}
			case image != "":
				// The image brings its runtime (Lambda: Runtime stays empty); Handler still
				// reaches it as _HANDLER, which the faaslab bootstrap reads.
				req.Code.ImageUri = image
				req.PackageType = "Image"
				req.Runtime = ""
			}
			if len(env) > 0 {
				vars, err := parseEnv(env)
				if err != nil {
					return err
				}
				req.Environment = vars
			}
			out, err := d.client().CreateFunction(cmd.Context(), req)
			return printResult(cmd.OutOrStdout(), out, err)
		},
	}
	cmd.Flags().StringVar(&runtime, "runtime", "faaslab", `"faaslab" (built-in handlers) or provided, provided.al2, provided.al2023 (zip with bootstrap); none with --image`)
	cmd.Flags().StringVar(&handler, "handler", "echo", "built-in handler (echo, sleep, cpu, alloc, wordcount, ...) or your handler name")
	cmd.Flags().StringVar(&zipPath, "zip", "", "zip file holding a bootstrap executable")
	cmd.Flags().StringVar(&image, "image", "", "container image built FROM faaslab-runtime (PackageType Image; docker backend)")
	cmd.Flags().IntVar(&memoryMB, "memory", 128, "MemorySize in MB")
	cmd.Flags().IntVar(&timeoutS, "timeout", 3, "Timeout in seconds")
	cmd.Flags().StringArrayVar(&env, "env", nil, "environment variable KEY=VALUE (repeatable)")
	return cmd
}

func newFnUpdateCmd(d *daemonFlags) *cobra.Command {
	var memoryMB, timeoutS int
	var env []string
	cmd := &cobra.Command{
		Use:   "update NAME",
		Short: "Change MemorySize, Timeout or Environment of a function",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var req client.UpdateFunctionConfigurationRequest
			if cmd.Flags().Changed("memory") {
				req.MemorySize = &memoryMB
			}
			if cmd.Flags().Changed("timeout") {
				req.Timeout = &timeoutS
			}
			if cmd.Flags().Changed("env") {
				vars, err := parseEnv(env)
				if err != nil {
					return err
				}
				req.Environment = vars
			}
			if req == (client.UpdateFunctionConfigurationRequest{}) {
				return fmt.Errorf("nothing to update: give --memory, --timeout or --env")
			}
			out, err := d.client().UpdateFunctionConfiguration(cmd.Context(), args[0], req)
			return printResult(cmd.OutOrStdout(), out, err)
		},
	}
	cmd.Flags().IntVar(&memoryMB, "memory", 128, "new MemorySize in MB")
	cmd.Flags().IntVar(&timeoutS, "timeout", 3, "new Timeout in seconds")
	cmd.Flags().StringArrayVar(&env, "env", nil, "environment variable KEY=VALUE (repeatable; replaces all)")
	return cmd
}

func newFnListCmd(d *daemonFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List functions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fns, err := d.client().ListFunctions(cmd.Context())
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%-32s %-16s %-12s %8s %8s\n", "NAME", "RUNTIME", "HANDLER", "MEMORY", "TIMEOUT")
			for _, f := range fns {
				fmt.Fprintf(w, "%-32s %-16s %-12s %6dMB %7ds\n", f.FunctionName, f.Runtime, f.Handler, f.MemorySize, f.Timeout)
			}
			return nil
		},
	}
}

func newFnGetCmd(d *daemonFlags) *cobra.Command {
	return callCmd("get NAME", "Show a function's configuration", cobra.ExactArgs(1),
		func(ctx context.Context, args []string) (any, error) { return d.client().GetFunction(ctx, args[0]) })
}

func newFnDeleteCmd(d *daemonFlags) *cobra.Command {
	return callCmd("delete NAME", "Delete a function and stop its sandboxes", cobra.ExactArgs(1),
		func(ctx context.Context, args []string) (any, error) {
			return nil, d.client().DeleteFunction(ctx, args[0])
		})
}

func newFnInvokeCmd(d *daemonFlags) *cobra.Command {
	var payload, payloadFile, invocationType string
	var tail bool
	cmd := &cobra.Command{
		Use:   "invoke NAME",
		Short: "Invoke a function and print its response (the log tail goes to stderr with --log)",
		Example: `  faaslab fn invoke hello --payload '{"x":1}' --log
  faaslab fn invoke slow --type Event`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body, flag := []byte(payload), "--payload"
			if payloadFile != "" {
				var err error
				if body, err = os.ReadFile(payloadFile); err != nil {
					return fmt.Errorf("read --payload-file: %w", err)
				}
				flag = "--payload-file"
			}
			// Lambda refuses a payload that is not JSON; say so before the round trip.
			if len(body) > 0 && !json.Valid(body) {
				return fmt.Errorf("%s %.40q is not JSON: Lambda only accepts JSON payloads (quote text as a JSON string: '\"hello\"')", flag, body)
			}
			res, err := d.client().Invoke(cmd.Context(), client.InvokeRequest{FunctionName: args[0],
				InvocationType: invocationType, Payload: body, TailLog: tail})
			if err != nil {
				return err
			}
			if tail && res.LogTail != "" {
				fmt.Fprint(cmd.ErrOrStderr(), res.LogTail)
			}
			cmd.OutOrStdout().Write(res.Payload)
			if len(res.Payload) > 0 && res.Payload[len(res.Payload)-1] != '\n' {
				fmt.Fprintln(cmd.OutOrStdout())
			}
			if res.FunctionError != "" {
				return fmt.Errorf("function error (%s)", res.FunctionError)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&payload, "payload", "{}", "JSON payload (Lambda refuses anything else)")
	cmd.Flags().StringVar(&payloadFile, "payload-file", "", "read the payload from a file")
	cmd.Flags().StringVar(&invocationType, "type", "RequestResponse", "RequestResponse, Event or DryRun")
	cmd.Flags().BoolVar(&tail, "log", false, "print the last 4 KB of the invocation's log (X-Amz-Log-Type: Tail)")
	return cmd
}
