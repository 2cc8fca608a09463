using Imagic.Pipelines;
using Spectre.Console;

namespace Imagic.Cli;

/// <summary>
/// Shows <see cref="StepProgress"/> as a Spectre progress bar with loss and ETA on a terminal, and as
/// plain periodic lines when output is redirected (CI, pipes), where Spectre prints nothing.
/// </summary>
internal static class ConsoleProgress
{
    public static T Run<T>(string title, Func<IProgress<StepProgress>, T> work)
    {
        if (Console.IsErrorRedirected || Console.IsOutputRedirected || !AnsiConsole.Profile.Capabilities.Interactive)
            return work(new PlainProgress());
        T result = default!;
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                new RemainingTimeColumn(), new ElapsedTimeColumn())
            .Start(ctx =>
            {
                var tasks = new Dictionary<string, ProgressTask>();
                var progress = new SynchronousProgress(p =>
                {
                    if (!tasks.TryGetValue(p.Stage, out var task))
                        tasks[p.Stage] = task = ctx.AddTask(Markup.Escape(p.Stage), maxValue: p.Total);
                    task.Value = p.Step;
                    task.Description = Markup.Escape(p.Loss is double loss ? $"{p.Stage} loss {loss:F4}" : p.Stage);
                });
                result = work(progress);
            });
        return result;
    }

    /// <summary>Reports on the calling thread, unlike <see cref="Progress{T}"/>, which posts to the thread pool.</summary>
    sealed class SynchronousProgress(Action<StepProgress> report) : IProgress<StepProgress>
    {
        public void Report(StepProgress value) => report(value);
    }

    internal sealed class PlainProgress : IProgress<StepProgress>
    {
        readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
        string? _stage;
        int _lastPercent = -1;

        public void Report(StepProgress p)
        {
            if (p.Stage != _stage) { _stage = p.Stage; _lastPercent = -1; _clock.Restart(); }
            int percent = p.Total == 0 ? 100 : p.Step * 100 / p.Total;
            if (percent / 10 == _lastPercent / 10 && p.Step != p.Total) return;
            _lastPercent = percent;
            // "left", not "eta": η is the edit's interpolation weight.
            double left = p.Step == 0 ? 0 : _clock.Elapsed.TotalSeconds / p.Step * (p.Total - p.Step);
            string loss = p.Loss is double l ? $" loss {l:F4}" : "";
            Console.Error.WriteLine($"{p.Stage}: {p.Step}/{p.Total}{loss} ({left:F0}s left)");
        }
    }
}
