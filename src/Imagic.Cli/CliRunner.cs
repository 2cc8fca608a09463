using System.CommandLine;
using Spectre.Console;

namespace Imagic.Cli;

/// <summary>
/// Runs a command line and turns every failure into a one-line message: users see what went wrong
/// and what to do, never a stack trace (set IMAGIC_DEBUG=1 to get one).
/// </summary>
internal static class CliRunner
{
    public static int Run(RootCommand root, string[] args)
    {
        try
        {
            OptionChecks.UseStrictNumbers(root);
            var parsed = root.Parse(args);
            if (parsed.Action is System.CommandLine.Invocation.ParseErrorAction)
                return ParseFailure(parsed);
            // Help and version need no libtorch; loading it would make them four times slower (0.15 → 0.65 s).
            if (parsed.Action is not System.CommandLine.Help.HelpAction && parsed.Action?.GetType().DeclaringType != typeof(VersionOption))
            {
                HeapTuning.Apply();
                NativeLog.QuietWarnings();
            }
            var config = new InvocationConfiguration { EnableDefaultExceptionHandler = false };
            return parsed.Invoke(config);
        }
        catch (Exception e)
        {
            return Fail(e);
        }
    }

    /// <summary>The first parse error on one line and where to look, instead of the whole help.</summary>
    static int ParseFailure(ParseResult parsed)
    {
        Console.Error.WriteLine($"error: {parsed.Errors[0].Message}");
        var names = new List<string>();
        for (var c = parsed.CommandResult; c is not null; c = c.Parent as System.CommandLine.Parsing.CommandResult)
            names.Insert(0, c.Command is RootCommand ? "imagic" : c.Command.Name);
        Console.Error.WriteLine($"Run '{string.Join(' ', names)} --help' for the options.");
        return 1;
    }

    internal static int Fail(Exception e)
    {
        var root = Unwrap(e);
        if (root is ExplainedCancellation)
            return 130; // the command already said what happened and how to continue
        string message = root switch
        {
            ImagicException => root.Message,
            OperationCanceledException => "Cancelled.",
            OutOfMemoryException => "Out of memory. Try a smaller image size or fewer steps.",
            DllNotFoundException or TypeInitializationException =>
                $"The TorchSharp native library could not be loaded ({root.Message}). Rebuild with 'dotnet build' so the native fix runs.",
            IOException or UnauthorizedAccessException => root.Message,
            _ => $"Unexpected error ({root.GetType().Name}): {root.Message}",
        };
        Console.Error.WriteLine($"error: {message}");
        if (Environment.GetEnvironmentVariable("IMAGIC_DEBUG") == "1")
            Console.Error.WriteLine(e);
        return root is OperationCanceledException ? 130 : 1;
    }

    static Exception Unwrap(Exception e)
    {
        while (e is AggregateException { InnerException: not null } or System.Reflection.TargetInvocationException { InnerException: not null })
            e = e.InnerException!;
        // TorchSharp wraps its native-load failure; keep the type so the hint above applies.
        return e;
    }
}
