using System.CommandLine;
using System.Net;
using Imagic.Studio;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Imagic.Cli.Commands;

/// <summary><c>imagic serve</c>: Imagic Studio, the local web app (src/Imagic.Studio).</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var threads = CommonOptions.Threads();
        var runs = new Option<string>("--runs")
        {
            Description = "Folder of the edit runs: runs made by 'imagic edit' there are listed too.",
            DefaultValueFactory = _ => "runs",
        };
        var port = new Option<int>("--port") { Description = "TCP port.", DefaultValueFactory = _ => 7860 };
        var host = new Option<string>("--host")
        {
            Description = "Address to listen on. Default 127.0.0.1 (this computer only); anything else exposes the studio to the network.",
            DefaultValueFactory = _ => "127.0.0.1",
        };
        var command = new Command("serve",
            "Start Imagic Studio, a web app on this computer: upload a photo, type the target text, watch stages A and B train, " +
            "then slide η and see the edit move between the photo and the text. Serves until Ctrl-C, which stops a running edit " +
            "with a checkpoint.\nExample: imagic serve --runs runs  (then open http://127.0.0.1:7860)")
        {
            runs, port, host, threads,
        };
        var loading = ModelLoadOptions.AddTo(command,
            "Model that new edits use: a folder (diffusers layout) or a single-file .safetensors checkpoint. Default: the bundled shapes model.");
        command.SetAction(result =>
        {
            int portNumber = result.GetValue(port);
            if (portNumber is < 0 or > 65535) throw new ImagicException($"--port must be from 0 to 65535, got {portNumber}.");
            string address = result.GetValue(host)!;
            if (!IsLoopback(address))
                Console.Error.WriteLine($"warning: --host {address} makes the studio reachable from other computers. It has no login: " +
                    "anyone who can reach it can upload images and use this computer's CPU.");
            var options = new StudioOptions(loading.ModelDir(result), result.GetValue(runs)!,
                Path.Combine(AppContext.BaseDirectory, "samples"), Loading: loading.Read(result));
            CommonOptions.ApplyThreads(result, threads);
            using var app = StudioApp.Create(options, builder =>
            {
                builder.WebHost.UseUrls($"http://{(address.Contains(':') ? $"[{address}]" : address)}:{portNumber}");
                builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
                builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning); // the URL is printed below
            });
            try
            {
                app.Start();
            }
            catch (IOException e)
            {
                throw new ImagicException($"Cannot listen on {address}:{portNumber}: {e.Message}", e);
            }
            foreach (var url in app.Urls)
                Console.WriteLine($"Imagic Studio: {url.Replace("0.0.0.0", "localhost")}  (model {options.ModelDir}, runs {Path.GetFullPath(options.RunsDir)})");
            Console.WriteLine("Press Ctrl-C to stop.");
            app.WaitForShutdown();
            return 0;
        });
        return command;
    }

    static bool IsLoopback(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip));
}
