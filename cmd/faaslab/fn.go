package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// defaultEndpoint is where `faaslab daemon` listens unless told otherwise.
const defaultEndpoint = "http://127.0.0.1:3001"

func newFnCmd() *cobra.Command {
	var endpoint string
	cmd := &cobra.Command{
		Use:   "fn",
		Short: "Create, inspect, invoke and delete functions on a running daemon",
	}
	cmd.PersistentFlags().StringVar(&endpoint, "endpoint", envOr("FAASLAB_ENDPOINT", defaultEndpoint), "daemon Lambda API endpoint")
	client := func() *lambdaClient { return newLambdaClient(endpoint) }
	cmd.AddCommand(newFnCreateCmd(client), newFnUpdateCmd(client), newFnListCmd(client),
		newFnGetCmd(client), newFnDeleteCmd(client), newFnInvokeCmd(client))
	return cmd
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// parseEnv turns KEY=VALUE flags into Lambda's Environment.Variables.
func parseEnv(pairs []string) (map[string]string, error) {
	vars := map[string]string{}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--env %q: want KEY=VALUE", p)
		}
		vars[k] = v
	}
	return vars, nil
}

func newFnCreateCmd(client func() *lambdaClient) *cobra.Command {
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
			req := map[string]any{
				"FunctionName": args[0],
				"Runtime":      runtime,
				"Handler":      handler,
				"Role":         "arn:aws:iam::000000000000:role/faaslab",
				"MemorySize":   memoryMB,
				"Timeout":      timeoutS,
			}
			code := map[string]any{}
			switch {
			case zipPath != "":
				data, err := os.ReadFile(zipPath)
				if err != nil {
					return fmt.Errorf("read --zip: %w", err)
				}
				code["ZipFile"] = data // encoding/json base64-encodes []byte, as Lambda expects
				if runtime == "faaslab" {
					req["Runtime"] = "provided.al2023"
				}
			case image != "":
				code["ImageUri"] = image
				req["PackageType"] = "Image"
			}
			req["Code"] = code
			if len(env) > 0 {
				vars, err := parseEnv(env)
				if err != nil {
					return err
				}
				req["Environment"] = map[string]any{"Variables": vars}
			}
			var out map[string]any
			if err := client().do(cmd.Context(), "POST", "/2015-03-31/functions", req, &out); err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), out)
		},
	}
	cmd.Flags().StringVar(&runtime, "runtime", "faaslab", `"faaslab" (built-in handlers) or provided, provided.al2, provided.al2023 (zip with bootstrap)`)
	cmd.Flags().StringVar(&handler, "handler", "echo", "built-in handler (echo, sleep, cpu, alloc, wordcount, ...) or your handler name")
	cmd.Flags().StringVar(&zipPath, "zip", "", "zip file holding a bootstrap executable")
	cmd.Flags().StringVar(&image, "image", "", "container image (docker backend)")
	cmd.Flags().IntVar(&memoryMB, "memory", 128, "MemorySize in MB")
	cmd.Flags().IntVar(&timeoutS, "timeout", 3, "Timeout in seconds")
	cmd.Flags().StringArrayVar(&env, "env", nil, "environment variable KEY=VALUE (repeatable)")
	return cmd
}

func newFnUpdateCmd(client func() *lambdaClient) *cobra.Command {
	var memoryMB, timeoutS int
	var env []string
	cmd := &cobra.Command{
		Use:   "update NAME",
		Short: "Change MemorySize, Timeout or Environment of a function",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := map[string]any{}
			if cmd.Flags().Changed("memory") {
				req["MemorySize"] = memoryMB
			}
			if cmd.Flags().Changed("timeout") {
				req["Timeout"] = timeoutS
			}
			if cmd.Flags().Changed("env") {
				vars, err := parseEnv(env)
				if err != nil {
					return err
				}
				req["Environment"] = map[string]any{"Variables": vars}
			}
			if len(req) == 0 {
				return fmt.Errorf("nothing to update: give --memory, --timeout or --env")
			}
			var out map[string]any
			path := "/2015-03-31/functions/" + url.PathEscape(args[0]) + "/configuration"
			if err := client().do(cmd.Context(), "PUT", path, req, &out); err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), out)
		},
	}
	cmd.Flags().IntVar(&memoryMB, "memory", 128, "new MemorySize in MB")
	cmd.Flags().IntVar(&timeoutS, "timeout", 3, "new Timeout in seconds")
	cmd.Flags().StringArrayVar(&env, "env", nil, "environment variable KEY=VALUE (repeatable; replaces all)")
	return cmd
}

func newFnListCmd(client func() *lambdaClient) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List functions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out struct {
				Functions []struct {
					FunctionName string
					Runtime      string
					Handler      string
					MemorySize   int
					Timeout      int
				}
			}
			if err := client().do(cmd.Context(), "GET", "/2015-03-31/functions/", nil, &out); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%-32s %-16s %-12s %8s %8s\n", "NAME", "RUNTIME", "HANDLER", "MEMORY", "TIMEOUT")
			for _, f := range out.Functions {
				fmt.Fprintf(w, "%-32s %-16s %-12s %6dMB %7ds\n", f.FunctionName, f.Runtime, f.Handler, f.MemorySize, f.Timeout)
			}
			return nil
		},
	}
}

func newFnGetCmd(client func() *lambdaClient) *cobra.Command {
	return &cobra.Command{
		Use:   "get NAME",
		Short: "Show a function's configuration",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out map[string]any
			if err := client().do(cmd.Context(), "GET", "/2015-03-31/functions/"+url.PathEscape(args[0]), nil, &out); err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), out)
		},
	}
}

func newFnDeleteCmd(client func() *lambdaClient) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a function and stop its sandboxes",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return client().do(cmd.Context(), "DELETE", "/2015-03-31/functions/"+url.PathEscape(args[0]), nil, nil)
		},
	}
}

func newFnInvokeCmd(client func() *lambdaClient) *cobra.Command {
	var payload, payloadFile, invocationType string
	var tail bool
	cmd := &cobra.Command{
		Use:   "invoke NAME",
		Short: "Invoke a function and print its response (the log tail goes to stderr with --log)",
		Example: `  faaslab fn invoke hello --payload '{"x":1}' --log
  faaslab fn invoke slow --type Event`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body := []byte(payload)
			if payloadFile != "" {
				var err error
				if body, err = os.ReadFile(payloadFile); err != nil {
					return fmt.Errorf("read --payload-file: %w", err)
				}
			}
			res, err := client().invoke(cmd.Context(), args[0], invocationType, body, tail)
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
	cmd.Flags().StringVar(&payload, "payload", "{}", "JSON payload")
	cmd.Flags().StringVar(&payloadFile, "payload-file", "", "read the payload from a file")
	cmd.Flags().StringVar(&invocationType, "type", "RequestResponse", "RequestResponse, Event or DryRun")
	cmd.Flags().BoolVar(&tail, "log", false, "print the last 4 KB of the invocation's log (X-Amz-Log-Type: Tail)")
	return cmd
}
