using Imagic.Cli;

namespace Imagic.Tests.Cli;

/// <summary>Runs the <c>imagic</c> CLI in-process and captures what it prints.</summary>
internal static class CliHarness
{
    static readonly object ConsoleLock = new();

    public static (int ExitCode, string Out, string Err) Run(params string[] args)
    {
        lock (ConsoleLock)
        {
            var (oldOut, oldErr) = (Console.Out, Console.Error);
            var (stdout, stderr) = (new StringWriter(), new StringWriter());
            Console.SetOut(stdout);
            Console.SetError(stderr);
            try
            {
                int code = CliApp.Run(args);
                return (code, stdout.ToString(), stderr.ToString());
            }
            finally
            {
                Console.SetOut(oldOut);
                Console.SetError(oldErr);
            }
        }
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ConsoleCollection
{
    public const string Name = "console";
}
