namespace Imagic.Cli;

/// <summary>
/// Turns the first Ctrl-C into a cancellation request, so long jobs can write a checkpoint and stop
/// cleanly; a second Ctrl-C ends the process at once.
/// </summary>
internal sealed class CtrlC : IDisposable
{
    readonly CancellationTokenSource _cts = new();

    public CtrlC() => Console.CancelKeyPress += OnCancel;

    public CancellationToken Token => _cts.Token;

    void OnCancel(object? sender, ConsoleCancelEventArgs e)
    {
        if (_cts.IsCancellationRequested) return; // second Ctrl-C: let it terminate
        e.Cancel = true;
        Console.Error.WriteLine("\nStopping after the current step and saving a checkpoint (Ctrl-C again to abort)...");
        _cts.Cancel();
    }

    public void Dispose()
    {
        Console.CancelKeyPress -= OnCancel;
        _cts.Dispose();
    }
}

/// <summary>A cancellation the command has already explained (how to resume), so nothing more is printed.</summary>
internal sealed class ExplainedCancellation(OperationCanceledException inner) : OperationCanceledException(inner.Message, inner);
