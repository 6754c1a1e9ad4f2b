//! A goal's progress as a small line chart, laid out here and drawn by the view as SVG: no
//! network, no chart library, and the same picture offline.

use chrono::NaiveDate;
use doorstep_shared::model::ProgressPoint;

/// The chart's drawing area, in SVG user units.
pub const WIDTH: f64 = 320.0;
/// Its height.
pub const HEIGHT: f64 = 96.0;
/// Room left around the plot for the scale's labels.
const MARGIN: f64 = 18.0;

/// Where everything goes.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartLayout {
    /// One dot per rated point, (x, y), oldest first.
    pub dots: Vec<(f64, f64)>,
    /// The line through the dots, as an SVG `points` attribute.
    pub line: String,
    /// The y of each rating on the scale, (rating, y), for the guide lines.
    pub guides: Vec<(i64, f64)>,
    /// The first and last day, for the labels under the plot.
    pub span: Option<(NaiveDate, NaiveDate)>,
    /// The chart in words, for screen readers.
    pub description: String,
}

/// Lays out the rated points of a trail on a scale from `min` to `max`: days along, ratings
/// up. Points without a rating are not drawn (their notes still show beside the chart).
pub fn layout(points: &[ProgressPoint], min: i64, max: i64) -> ChartLayout {
    let rated: Vec<(NaiveDate, i64)> = points
        .iter()
        .filter_map(|point| point.rating.map(|rating| (point.on, rating)))
        .filter(|(_, rating)| (min..=max).contains(rating))
        .collect();
    let plot_width = WIDTH - 2.0 * MARGIN;
    let plot_height = HEIGHT - 2.0 * MARGIN;
    let y_of = |rating: i64| {
        let steps = (max - min).max(1) as f64;
        MARGIN + plot_height * (1.0 - (rating - min) as f64 / steps)
    };
    let span = rated
        .first()
        .zip(rated.last())
        .map(|((first, _), (last, _))| (*first, *last));
    let dots: Vec<(f64, f64)> = rated
        .iter()
        .map(|(on, rating)| {
            let x = match span {
                Some((first, last)) if last > first => {
                    let days = (last - first).num_days() as f64;
                    MARGIN + plot_width * (*on - first).num_days() as f64 / days
                }
                _ => WIDTH / 2.0,
            };
            (x, y_of(*rating))
        })
        .collect();
    let line = dots
        .iter()
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect::<Vec<_>>()
        .join(" ");
    let description = match (rated.first(), rated.last()) {
        (Some(first), Some(last)) if rated.len() > 1 => format!(
            "Progress rated {} times: {} of {max} on {}, {} of {max} on {}",
            rated.len(),
            first.1,
            first.0.format("%-d %b %Y"),
            last.1,
            last.0.format("%-d %b %Y")
        ),
        (Some(only), _) => format!(
            "Progress rated once: {} of {max} on {}",
            only.1,
            only.0.format("%-d %b %Y")
        ),
        _ => "No progress rated yet".to_owned(),
    };
    ChartLayout {
        dots,
        line,
        guides: (min..=max).map(|rating| (rating, y_of(rating))).collect(),
        span,
        description,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(day: u32, rating: Option<i64>) -> ProgressPoint {
        ProgressPoint {
            on: NaiveDate::from_ymd_opt(2026, 11, day).unwrap(),
            rating,
            note: String::new(),
            record: None,
        }
    }

    #[test]
    fn days_run_along_and_ratings_up() {
        let chart = layout(
            &[
                point(1, Some(1)),
                point(3, None),
                point(5, Some(3)),
                point(11, Some(5)),
            ],
            1,
            5,
        );
        // The unrated note is not drawn; the others sit at their day's share of the width.
        assert_eq!(
            chart.dots,
            [
                (18.0, 78.0),
                (18.0 + 284.0 * 4.0 / 10.0, 48.0),
                (302.0, 18.0)
            ]
        );
        assert_eq!(chart.line, "18.0,78.0 131.6,48.0 302.0,18.0");
        assert_eq!(chart.guides.first(), Some(&(1, 78.0)));
        assert_eq!(chart.guides.last(), Some(&(5, 18.0)));
        assert_eq!(
            chart.description,
            "Progress rated 3 times: 1 of 5 on 1 Nov 2026, 5 of 5 on 11 Nov 2026"
        );
    }

    #[test]
    fn one_rating_sits_in_the_middle_and_none_draws_nothing() {
        let one = layout(&[point(4, Some(2))], 1, 5);
        assert_eq!(one.dots, [(160.0, 63.0)]);
        assert_eq!(one.description, "Progress rated once: 2 of 5 on 4 Nov 2026");
        let none = layout(&[point(4, None)], 1, 5);
        assert!(none.dots.is_empty() && none.line.is_empty() && none.span.is_none());
        assert_eq!(none.description, "No progress rated yet");
    }
}
