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
            var config = new InvocationConfiguration { EnableDefaultExceptionHandler = false };
            return root.Parse(args).Invoke(config);
        }
        catch (Exception e)
        {
            return Fail(e);
        }
    }

    internal static int Fail(Exception e)
    {
        var root = Unwrap(e);
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
