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

    /// <param name="clock">Elapsed time since start; a stopwatch unless a test gives its own.</param>
    internal sealed class PlainProgress(TimeProvider? clock = null) : IProgress<StepProgress>
    {
        readonly TimeProvider _clock = clock ?? TimeProvider.System;
        long _stageStart;
        string? _stage;
        int _firstStep;
        int _lastPercent = -1;

        public void Report(StepProgress p)
        {
            // The clock starts at a stage's first report, so the rate counts only the steps after it: a resumed run
            // reports step 501 of 2000 first, and its time left must not spread the elapsed time over 501 steps.
            if (p.Stage != _stage) { _stage = p.Stage; _firstStep = p.Step; _lastPercent = -1; _stageStart = _clock.GetTimestamp(); }
            int percent = p.Total == 0 ? 100 : p.Step * 100 / p.Total;
            if (percent / 10 == _lastPercent / 10 && p.Step != p.Total) return;
            _lastPercent = percent;
            string loss = p.Loss is double l ? $" loss {l:F4}" : "";
            Console.Error.WriteLine($"{p.Stage}: {p.Step}/{p.Total}{loss}{TimeLeft(p)}");
        }

        // "left", not "eta": η is the edit's interpolation weight.
        string TimeLeft(StepProgress p)
        {
            if (p.Step >= p.Total) return " (0s left)";
            int done = p.Step - _firstStep;
            if (done <= 0) return "";
            double left = _clock.GetElapsedTime(_stageStart).TotalSeconds / done * (p.Total - p.Step);
            return $" ({left:F0}s left)";
        }
    }
}
